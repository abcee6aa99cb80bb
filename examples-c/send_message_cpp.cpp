// send_message_cpp.cpp: send one SMS through Hero Health from C++17 with
// herohealth.hpp (RAII handles, a message builder, no exceptions needed).
//
// Settings come from the environment, as in send_message.c: HERO_API_KEY,
// HERO_PRACTICE_GROUP_ID and HERO_BASE_URL (e.g. the local mock) or
// HERO_ENVIRONMENT=staging.
#include <cstdio>

#include "herohealth.hpp"

static int report(const hero::Outcome &failed) {
    std::fprintf(stderr, "%s (status %d)\n", failed.message(), static_cast<int>(failed.status()));
    return 1;
}

int main() {
    hero::Result<hero::Config> config = hero::Config::from_env();
    if (!config) return report(config);

    // Share one client for every send; it keeps its own copy of the settings.
    hero::Result<hero::Client> client = hero::Client::create(config.value());
    if (!client) return report(client);

    hero::Message message("4242", HERO_MESSAGE_TYPE_SMS, "Your prescription is ready.");
    message.recipient_contact_detail("07700 900123");

    // Blocks until Hero answers, within the deadline (30 s by default).
    hero::Result<hero::Response> sent = client.value().send(message);
    switch (sent.status()) {
    case HERO_OK:
        std::printf("sent: Hero message id %s\n", sent.value().message_id());
        return 0;
    case HERO_MAY_HAVE_BEEN_SENT:
        std::fprintf(stderr, "check in Hero before sending again: ");
        break;
    case HERO_ACCEPTED_ID_UNKNOWN:
        std::fprintf(stderr, "accepted; do not send again: ");
        break;
    default:  // not sent or refused: safe to send again once the cause is fixed
        break;
    }
    return report(sent);
}

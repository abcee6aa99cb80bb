// find_patient_cpp.cpp: find a patient by NHS number and date of birth and
// send them a message in one call and one deadline, from C++17 with
// herohealth.hpp.
//
//   find_patient_cpp NHS_NUMBER DOB MESSAGE
//
// Settings come from the environment, as in send_message.c. Exits 0 when
// sent, 8 when the patient must verify their identity first (nothing was
// sent), 1 on any failure.
#include <cstdio>

#include "herohealth.hpp"

static int report(const char *what, const hero::Outcome &failed) {
    std::fprintf(stderr, "%s: %s (status %d)\n", what, failed.message(), static_cast<int>(failed.status()));
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: find_patient_cpp NHS_NUMBER DOB MESSAGE\n");
        return 2;
    }
    hero::Result<hero::Config> config = hero::Config::from_env();
    if (!config) return report("settings", config);
    hero::Result<hero::Client> client = hero::Client::create(config.value());
    if (!client) return report("settings", client);

    // The lookup alone: the answer, or an error that is never "may have been sent".
    hero::PatientQuery query = hero::PatientQuery::by_nhs_number(argv[1], argv[2]);
    query.ehr_partner("example-ehr").ehr_partner_id("example-1");
    hero::Result<hero::Patient> found = client.value().find_patient(query);
    if (!found) return report("lookup", found);
    std::printf("%.*s\n", static_cast<int>(found.value().json().size()), found.value().json().data());

    // Lookup and send together; the message's own patient id is ignored.
    hero::Message message("", HERO_MESSAGE_TYPE_HERO, argv[3]);
    hero::Result<hero::FoundAndSent> sent = client.value().find_and_send(query, message);
    if (!sent) {
        // A patient in the result means the send failed, not the lookup.
        if (sent.value().patient) std::fprintf(stderr, "found, but the send failed\n");
        return report("send", sent);
    }
    if (sent.value().patient.answer() == HERO_PATIENT_VERIFICATION_REQUIRED) {
        std::fprintf(stderr, "%s\n", sent.value().patient.message());
        return 8;
    }
    std::printf("sent to %s as %s\n", sent.value().patient.id(), sent.value().response.message_id());
    return 0;
}

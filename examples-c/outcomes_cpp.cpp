// outcomes_cpp.cpp: drives herohealth.hpp through every outcome against
// hero-mock (whose reserved patient ids trigger them) and prints one line
// per case with everything the result carries, for tests/c_programs.rs to
// check. Not an example to copy: see send_message_cpp.cpp.
//
//   HERO_BASE_URL=... HERO_API_KEY=... HERO_PRACTICE_GROUP_ID=...
//   outcomes_cpp http://127.0.0.1:<port where nothing listens>
#include <cstdio>
#include <string>
#include <string_view>

#include "herohealth.hpp"

namespace {

const char *or_dash(const char *s) { return s ? s : "-"; }

// One line: the outcome and every Error accessor.
void print_failure(const char *label, const hero::Outcome &outcome) {
    const hero::Error &e = outcome.error();
    std::printf("%s status=%d error=%d kind=%d http=%u attempts=%u retry_after=%lld field=%s body=%zu "
                "server_message=%s message=%s\n",
                label, static_cast<int>(outcome.status()), e ? 1 : 0, static_cast<int>(e.kind()),
                static_cast<unsigned>(e.http_status()), static_cast<unsigned>(e.attempts()),
                static_cast<long long>(e.retry_after_ms()), or_dash(e.field()), e.body().size(),
                or_dash(e.server_message()), outcome.message()[0] != '\0' ? "yes" : "no");
}

// One line: every Response accessor (values the mock echoes, else present or not).
void print_reply(const char *label, const hero::Response &r) {
    std::printf("%s status=0 message_id=%s content=%s created_at=%s snomed_code=%s auth_token=%s "
                "confirm_url=%s submitted_by=%s send_at=%s write_to_record=%d json=%s\n",
                label, r.message_id() ? "yes" : "no", or_dash(r.content()), r.created_at() ? "yes" : "no",
                or_dash(r.snomed_code()), r.auth_token() ? "yes" : "no",
                r.confirm_write_to_record_url() ? "yes" : "no", r.submitted_by() ? "yes" : "no",
                r.send_at() ? "yes" : "no", static_cast<int>(r.write_to_record()),
                r.json().substr(0, 1) == "{" ? "object" : "other");
}

void send_case(const hero::Client &client, const char *label, std::string_view patient) {
    hero::Message message(patient, HERO_MESSAGE_TYPE_SMS, "C++ outcome check");
    hero::Result<hero::Response> sent = client.send(message);
    if (sent.ok()) {
        print_reply(label, sent.value());
    } else {
        print_failure(label, sent);
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: outcomes_cpp DEAD_BASE_URL\n");
        return 2;
    }
    hero::Result<hero::Config> config = hero::Config::from_env();
    if (!config) {
        print_failure("config", config);
        return 1;
    }
    config.value().max_attempts(1).deadline_ms(10000).max_idle_age_ms(4000);
    hero::Result<hero::Client> made = hero::Client::create(config.value());
    if (!made) {
        print_failure("client", made);
        return 1;
    }
    const hero::Client &client = made.value();
    std::printf("version %s\n", std::string(hero::version()).c_str());

    // Accepted, with a reply carrying every field the mock fills in.
    {
        hero::Message message("4242", HERO_MESSAGE_TYPE_SMS, "C++ outcome check");
        message.recipient_contact_detail("07700 900123").write_to_record(true).snomed_code("185317003");
        hero::Result<hero::Response> sent = client.send(message);
        if (!sent) {
            print_failure("ok", sent);
        } else {
            print_reply("ok", sent.value());
        }
    }

    // Not sent: a rule broken (named by the library), checked and sent.
    {
        hero::Message message("4242", HERO_MESSAGE_TYPE_SMS, "C++ outcome check");
        message.snomed_code("123456789");
        print_failure("check-invalid", client.check(message));
        print_failure("invalid", client.send(message));
    }
    // Not sent: a view with a NUL cannot reach C whole; nothing is sent.
    {
        hero::Message message("4242", HERO_MESSAGE_TYPE_SMS, "C++ outcome check");
        message.recipient_contact_detail(std::string_view("07700\0 900123", 13)).task_id("never-set");
        print_failure("embedded-nul", client.send(message));
        hero::Message bad(std::string_view("42\0" "42", 5), HERO_MESSAGE_TYPE_SMS, "text");
        print_failure("embedded-nul-new", client.send(bad));
    }
    // Not sent: nothing listens at the dead address.
    {
        hero::Config dead = hero::Config::custom(argv[1], "dead-key", "dead-group");
        dead.max_attempts(1);
        hero::Result<hero::Client> dead_client = hero::Client::create(dead);
        if (!dead_client) {
            print_failure("connect-client", dead_client);
        } else {
            send_case(dead_client.value(), "connect", "4242");
        }
    }
    // Not sent: a settings builder step failed, so no client is made.
    {
        hero::Config bad = hero::Config::custom("http://127.0.0.1:1", "key", "group");
        bad.user_agent_suffix(std::string_view("a\0b", 3)).deadline_ms(1000);
        print_failure("config-builder", hero::Client::create(bad));
    }

    // Refused, may have been sent, accepted id unknown: the mock's reserved ids.
    send_case(client, "forbidden", "999403");
    send_case(client, "refused", "999422");
    send_case(client, "rate-limited", "999429");
    send_case(client, "redirect", "999307");
    send_case(client, "server-error", "999500");
    send_case(client, "dropped", "999000");
    send_case(client, "not-json", "999200");
    send_case(client, "no-id", "999201");

    hero_message_type type = 0;
    std::printf("names sms=%d nhs_app=%d bogus=%d nul=%d\n",
                static_cast<int>(hero::message_type_from_name("sms", type)) * 100 + static_cast<int>(type),
                static_cast<int>(hero::message_type_from_name("nhs_app", type)) * 100 + static_cast<int>(type),
                static_cast<int>(hero::message_type_from_name("SMS", type)),
                static_cast<int>(hero::message_type_from_name(std::string_view("sms\0", 4), type)));
    return 0;
}

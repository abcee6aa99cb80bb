// Test program: the C++ layer's hero::Cancel and timings, printed for
// tests/cancel_cli.rs.
//
//   cancel_cpp URL   a send with a triggered Cancel (nothing sent), then two
//                    sends to URL (the mock), their timings and reuse; then
//                    a lookup with the triggered Cancel (nothing sent) and
//                    one with a fresh Cancel, its timings
//
// Environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID.
#include <herohealth.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fputs("usage: cancel_cpp URL\n", stderr);
        return 2;
    }
    auto client = hero::Client::create(
        hero::Config::custom(argv[1], std::getenv("HERO_API_KEY"), std::getenv("HERO_PRACTICE_GROUP_ID")));
    if (!client) return 1;
    hero::Message message("4242", HERO_MESSAGE_TYPE_HERO, "Your results are ready.");
    hero::Cancel cancel;
    if (cancel.status() != HERO_OK) return 1;
    cancel.trigger();
    auto cancelled = client.value().send(message, cancel);
    std::printf("cancelled status=%d kind=%d attempts=%u\n", (int)cancelled.status(), (int)cancelled.error().kind(),
                (unsigned)cancelled.error().attempts());
    for (int i = 0; i < 2; i++) {
        hero::Cancel fresh;
        auto sent = client.value().send(message, fresh);
        if (!sent) return 1;
        const hero::Response &r = sent.value();
        std::printf("reply%d reused=%d attempts=%u resolve=%llu connect=%llu first_byte=%llu total=%llu\n", i,
                    (int)r.connection_reused(), (unsigned)r.attempts(),
                    (unsigned long long)r.timing_us(HERO_TIMING_RESOLVE),
                    (unsigned long long)r.timing_us(HERO_TIMING_CONNECT),
                    (unsigned long long)r.timing_us(HERO_TIMING_FIRST_BYTE),
                    (unsigned long long)r.timing_us(HERO_TIMING_TOTAL));
    }
    hero::PatientQuery query = hero::PatientQuery::by_nhs_number("9434765919", "1992-01-01");
    auto stopped = client.value().find_patient(query, cancel);
    std::printf("lookup_cancelled status=%d kind=%d\n", (int)stopped.status(), (int)stopped.error().kind());
    hero::Cancel fresh;
    auto found = client.value().find_patient(query, fresh);
    if (!found) return 1;
    const hero::Patient &p = found.value();
    std::printf("lookup reused=%d attempts=%u resolve=%llu first_byte=%llu total=%llu\n", (int)p.connection_reused(),
                (unsigned)p.attempts(), (unsigned long long)p.timing_us(HERO_TIMING_RESOLVE),
                (unsigned long long)p.timing_us(HERO_TIMING_FIRST_BYTE),
                (unsigned long long)p.timing_us(HERO_TIMING_TOTAL));
    return 0;
}

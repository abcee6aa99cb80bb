// batch_cpp.cpp: batch sending and the send journal through herohealth.hpp.
//
//   batch_cpp FILE JOURNAL [DAMAGED ROWS]
//
// Settings come from the environment (HERO_API_KEY, HERO_PRACTICE_GROUP_ID,
// HERO_BASE_URL). Checks FILE, sends it through the journal, sends two keyed
// messages, lists and resolves what is flagged, then runs FILE once more
// with the batch stopped before it starts. Given a damaged journal DAMAGED
// and its rows file ROWS, reads it (its damage and what it shows pending)
// and salvages it twice: alone, then with ROWS. Prints one line per step;
// the row lines and counts come from the library.
#include <algorithm>
#include <cstdio>
#include <string>

#include "herohealth.hpp"

static const char *class_name(hero_batch_class c)
{
    switch (c) {
    case HERO_BATCH_COMPLETE:
        return "complete";
    case HERO_BATCH_INCOMPLETE:
        return "incomplete";
    default:
        return "flagged";
    }
}

static void print_salvage(const char *what, const hero::Result<hero_salvage_report> &r)
{
    if (!r) {
        std::printf("%s failed %d %s\n", what, static_cast<int>(r.status()), r.message());
        return;
    }
    const hero_salvage_report &s = r.value();
    std::printf("%s flagged %zu sent %zu unnamed %zu rows_given %u damaged %u window %s\n", what, s.flagged, s.sent,
                s.unnamed_rows, s.rows_given, s.damaged,
                s.window_from_ms > 0 && s.window_to_ms >= s.window_from_ms ? "ordered" : "unknown");
}

// A damaged journal: read it, then salvage it alone and with its rows file.
static void salvage(const hero::Client &client, const std::string &damaged, const char *rows)
{
    {
        // Scoped: the reader holds the journal's lock until it is freed.
        hero::Result<hero::Journal> read = hero::Journal::open_to_read(damaged);
        if (!read) {
            std::printf("read failed %s\n", read.message());
            return;
        }
        hero::Result<std::string> pending = read.value().pending();
        std::printf("damage %s\n", read.value().damage().c_str());
        const std::string &listed = pending.value();
        std::printf("read pending %zu\n", static_cast<std::size_t>(std::count(listed.begin(), listed.end(), '\n')));
    }
    print_salvage("salvage", hero::Journal::salvage(damaged, damaged + ".salvaged"));
    hero::BatchOptions options;
    print_salvage("salvage-rows", hero::Journal::salvage(damaged, damaged + ".salvaged-rows", client, rows, options));
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        std::fprintf(stderr, "usage: batch_cpp FILE JOURNAL [DAMAGED ROWS]\n");
        return 2;
    }
    hero::Result<hero::Config> config = hero::Config::from_env();
    if (!config) {
        std::fprintf(stderr, "batch_cpp: %s\n", config.message());
        return 2;
    }
    config.value().max_sends_per_second(1000.0);
    hero::Result<hero::Client> client = hero::Client::create(config.value());
    hero::Result<hero::Journal> journal = hero::Journal::open(argv[2]);
    if (!client || !journal) {
        std::fprintf(stderr, "batch_cpp: %s\n", !client ? client.message() : journal.message());
        return 2;
    }
    // A journal that is not there is an error when reading one back.
    hero::Result<hero::Journal> missing = hero::Journal::open_existing(std::string(argv[2]) + ".missing");
    std::printf("missing %d\n", static_cast<int>(missing.status()));
    auto print_row = [](hero::RowView row, hero::SummaryView) {
        std::printf("row %.*s\n", static_cast<int>(row.json().size()), row.json().data());
    };

    hero::BatchStop stop;
    hero::BatchOptions check;
    check.default_value("message_type", "hero").default_value("message_string", "Hello ((name))").check_only(true);
    hero::Result<hero::Summary> checked = hero::run_batch(client.value(), nullptr, argv[1], check, print_row);
    std::printf("checked %s %llu valid\n", class_name(checked.value().view().batch_class()),
                static_cast<unsigned long long>(checked.value().view().count(HERO_ROW_VALID)));

    hero::BatchOptions send;
    send.default_value("message_type", "hero").default_value("message_string", "Hello ((name))").concurrency(2).stop(stop);
    hero::Result<hero::Summary> sent = hero::run_batch(client.value(), &journal.value(), argv[1], send, print_row);
    if (!sent) {
        std::fprintf(stderr, "batch_cpp: %s\n", sent.message());
        return 2;
    }
    std::string line(sent.value().view().line());
    std::printf("summary %s %s\n", class_name(sent.value().view().batch_class()), line.c_str());

    hero::Result<hero::Row> keyed = journal.value().send(client.value(), "cpp-key-1", hero::Message("999500", HERO_MESSAGE_TYPE_HERO, "x"));
    std::printf("keyed %.*s\n", static_cast<int>(keyed.value().view().json().size()), keyed.value().view().json().data());
    hero::Result<hero::Row> derived = journal.value().send(client.value(), hero::Message("5151", HERO_MESSAGE_TYPE_HERO, "x"));
    std::printf("derived %d %s\n", static_cast<int>(derived.value().view().outcome()), derived.value().view().message_id() ? "id" : "no-id");

    hero::Result<std::string> pending = journal.value().pending();
    std::printf("pending %s", pending.value().c_str());
    hero_resolution as = 0;
    hero::resolution_from_name("sent", as);
    hero::Outcome resolved = journal.value().resolve("cpp-key-1", as);
    std::printf("resolved %d\n", static_cast<int>(resolved.status()));

    stop.trigger();
    hero::Result<hero::Summary> stopped = hero::run_batch(client.value(), &journal.value(), argv[1], send, [](hero::RowView, hero::SummaryView) {});
    std::printf("stopped %llu not_sent\n", static_cast<unsigned long long>(stopped.value().view().count(HERO_ROW_NOT_SENT)));
    if (argc == 5) {
        salvage(client.value(), argv[3], argv[4]);
    }
    return 0;
}

/*
 * hero_send.c: send one message through Hero Health from the command line,
 * for scripts.
 *
 *   hero_send --patient-id ID --type hero|sms|email|nhs_app --message TEXT
 *             [optional flags, see usage()]
 *
 * Settings come from the environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID,
 * and HERO_BASE_URL or HERO_ENVIRONMENT=production|staging.
 *
 * On success the reply is printed on stdout as one JSON object. On failure
 * one line goes to stderr (never the key or the message text) and the exit
 * code says what happened:
 *   2  invalid input or configuration: nothing was sent
 *   3  refused by the server (3xx, or 4xx other than 429)
 *   4  rate limited (429, after the automatic retries)
 *   5  could not connect: not sent
 *   6  MAY HAVE BEEN SENT: check in Hero before resending
 *   7  accepted, but the reply was unreadable: do not resend
 * Every rule on the values is the library's; this file only parses flags.
 *
 * Batch mode (see BATCH_USAGE): one message per row of a CSV or JSON Lines
 * file, through a send journal, so a rerun sends only what has not gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "herohealth.h"

enum {
    EXIT_SENT = 0,
    EXIT_INVALID = 2,
    EXIT_REFUSED = 3,
    EXIT_RATE_LIMITED = 4,
    EXIT_NOT_CONNECTED = 5,
    EXIT_MAY_HAVE_BEEN_SENT = 6,
    EXIT_ACCEPTED_ID_UNKNOWN = 7
};

static const char USAGE[] =
    "Usage: hero_send --patient-id ID --type hero|sms|email|nhs_app --message TEXT [options]\n"
    "\n"
    "Sends one message through Hero Health (POST /v1/messages/send).\n"
    "\n"
    "Options (each sets the request field of the same meaning; unset ones are not sent):\n"
    "  --recipient CONTACT          recipient_contact_detail (phone for sms, address for email)\n"
    "  --fallback-type sms|email    fallback_message_type\n"
    "  --fallback-contact CONTACT   fallback_contact_detail\n"
    "  --write-to-record            write_to_record: true\n"
    "  --no-write-to-record         write_to_record: false\n"
    "  --auto-write-to-record       auto_write_to_record: true\n"
    "  --no-auto-write-to-record    auto_write_to_record: false\n"
    "  --encrypted                  encrypted: true\n"
    "  --no-encrypted               encrypted: false\n"
    "  --encrypted-text TEXT        encrypted: the JSON string TEXT (Hero types the field\n"
    "                               \"boolean or string\")\n"
    "  --snomed-code CODE           snomed_code\n"
    "  --snomed-term TERM           snomed_term\n"
    "  --task-id ID                 task_id\n"
    "  --attachment-uuid UUID       attachment_uuid\n"
    "  --short-link-id ID           short_link_id\n"
    "  --assignee-id N              assignee_id (a number)\n"
    "  --assignee-type Admin|AdminTeam  assignee_type\n"
    "  --send-at DATETIME           send_at (RFC 3339, e.g. 2026-12-01T09:00:00Z)\n"
    "  --timeout SECONDS            overall deadline, retries included (default 30)\n"
    "  --lenient                    skip the clinical and contact checks\n"
    "  --help                       show this help\n"
    "\n"
    "Environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID, and HERO_BASE_URL or\n"
    "HERO_ENVIRONMENT=production|staging (optional HERO_CA_FILE).\n"
    "\n"
    "On success prints Hero's reply as one JSON object. Exit codes:\n"
    "  0 sent; 2 invalid input or configuration (nothing sent); 3 refused by the\n"
    "  server; 4 rate limited; 5 could not connect (not sent); 6 MAY HAVE BEEN\n"
    "  SENT (check in Hero before resending); 7 accepted but the reply was\n"
    "  unreadable (do not resend).\n"
    "\n"
    "Batch mode: hero_send --batch FILE --journal FILE [options]; see hero_send --batch --help.\n";

/* The string-valued message fields, in the order of this table. */
typedef hero_status (*string_setter)(hero_message *, const char *);

static const struct {
    const char *flag;
    string_setter set;
} STRING_FLAGS[] = {
    {"--recipient", hero_message_set_recipient_contact_detail},
    {"--fallback-contact", hero_message_set_fallback_contact_detail},
    {"--snomed-code", hero_message_set_snomed_code},
    {"--snomed-term", hero_message_set_snomed_term},
    {"--task-id", hero_message_set_task_id},
    {"--attachment-uuid", hero_message_set_attachment_uuid},
    {"--short-link-id", hero_message_set_short_link_id},
    {"--send-at", hero_message_set_send_at},
};
#define STRING_FLAG_COUNT (sizeof STRING_FLAGS / sizeof STRING_FLAGS[0])

/* Everything the command line asked for; NULL / false when not given. */
struct options {
    const char *patient_id;
    const char *type;
    const char *message;
    const char *strings[STRING_FLAG_COUNT];
    const char *fallback_type;
    const char *assignee_id;
    const char *assignee_type;
    const char *timeout;
    uint32_t timeout_ms; /* parsed from timeout; 0 when not given */
    bool write_to_record;
    bool auto_write_to_record;
    bool encrypted;
    bool lenient;
    /* Explicit false, and the string form of encrypted. */
    bool no_write_to_record;
    bool no_auto_write_to_record;
    bool no_encrypted;
    const char *encrypted_text;
};

/* The names each enumerated flag accepts, for its error line. */
static const char TYPE_NAMES[] = "hero, sms, email, nhs_app";
static const char FALLBACK_TYPE_NAMES[] = "sms, email";
static const char ASSIGNEE_TYPE_NAMES[] = "Admin, AdminTeam";

/* One line on stderr. Callers never pass the key or the message text. */
static int fail(int code, const char *what, const char *detail)
{
    fprintf(stderr, "hero_send: %s%s\n", what, detail != NULL ? detail : "");
    return code;
}

/* A flag name is echoed only if it looks like one, so that a stray message
 * text (which may hold patient data) is never printed. */
static bool looks_like_flag(const char *arg)
{
    size_t i, n = strlen(arg);
    if (n < 3 || n > 40 || arg[0] != '-' || arg[1] != '-') {
        return false;
    }
    for (i = 2; i < n; i++) {
        char c = arg[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

/* A whole decimal integer, or false. */
static bool parse_int64(const char *text, long long *out)
{
    char *end = NULL;
    if (text[0] == '\0' || text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r')) {
        return false;
    }
    errno = 0;
    *out = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Seconds (decimals allowed) as milliseconds, or false. */
static bool parse_seconds_ms(const char *text, uint32_t *ms_out)
{
    char *end = NULL;
    double seconds;
    if (text[0] == '\0' || text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r')) {
        return false;
    }
    errno = 0;
    seconds = strtod(text, &end);
    /* Only the conversion to milliseconds is checked here; the library
     * decides which deadlines are usable (0 is refused there). */
    if (errno != 0 || *end != '\0' || !(seconds >= 0.0) || seconds > 4294967.0) {
        return false;
    }
    seconds *= 1000.0;
    *ms_out = (uint32_t)seconds;
    if ((double)*ms_out < seconds) {
        *ms_out += 1; /* round up: never shorter than asked */
    }
    return true;
}

/* A field set both ways is a slip on the command line: refuse it rather
 * than pick one. Returns -1 to go on, or an exit code. */
static int check_opposites(const struct options *o)
{
    if (o->write_to_record && o->no_write_to_record) {
        return fail(EXIT_INVALID, "--write-to-record and --no-write-to-record contradict each other",
                    " (try --help)");
    }
    if (o->auto_write_to_record && o->no_auto_write_to_record) {
        return fail(EXIT_INVALID,
                    "--auto-write-to-record and --no-auto-write-to-record contradict each other",
                    " (try --help)");
    }
    if ((o->encrypted ? 1 : 0) + (o->no_encrypted ? 1 : 0) + (o->encrypted_text != NULL ? 1 : 0) >
        1) {
        return fail(EXIT_INVALID,
                    "give only one of --encrypted, --no-encrypted and --encrypted-text",
                    " (try --help)");
    }
    return -1;
}

/* A name flag's value was not one of `names`: say which are. */
static int bad_name(const char *flag, const char *names)
{
    fprintf(stderr, "hero_send: %s must be one of: %s (try --help)\n", flag, names);
    return EXIT_INVALID;
}

/* Parses argv into `o`. Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        bool *flag = NULL;
        size_t k;

        if (strcmp(arg, "--help") == 0) {
            fputs(USAGE, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        }
        if (strcmp(arg, "--write-to-record") == 0) {
            flag = &o->write_to_record;
        } else if (strcmp(arg, "--auto-write-to-record") == 0) {
            flag = &o->auto_write_to_record;
        } else if (strcmp(arg, "--encrypted") == 0) {
            flag = &o->encrypted;
        } else if (strcmp(arg, "--no-write-to-record") == 0) {
            flag = &o->no_write_to_record;
        } else if (strcmp(arg, "--no-auto-write-to-record") == 0) {
            flag = &o->no_auto_write_to_record;
        } else if (strcmp(arg, "--no-encrypted") == 0) {
            flag = &o->no_encrypted;
        } else if (strcmp(arg, "--encrypted-text") == 0) {
            slot = &o->encrypted_text;
        } else if (strcmp(arg, "--lenient") == 0) {
            flag = &o->lenient;
        } else if (strcmp(arg, "--patient-id") == 0) {
            slot = &o->patient_id;
        } else if (strcmp(arg, "--type") == 0) {
            slot = &o->type;
        } else if (strcmp(arg, "--message") == 0) {
            slot = &o->message;
        } else if (strcmp(arg, "--fallback-type") == 0) {
            slot = &o->fallback_type;
        } else if (strcmp(arg, "--assignee-id") == 0) {
            slot = &o->assignee_id;
        } else if (strcmp(arg, "--assignee-type") == 0) {
            slot = &o->assignee_type;
        } else if (strcmp(arg, "--timeout") == 0) {
            slot = &o->timeout;
        } else {
            for (k = 0; k < STRING_FLAG_COUNT; k++) {
                if (strcmp(arg, STRING_FLAGS[k].flag) == 0) {
                    slot = &o->strings[k];
                }
            }
        }

        if (flag != NULL) {
            if (*flag) {
                return fail(EXIT_INVALID, arg, " given twice (try --help)");
            }
            *flag = true;
        } else if (slot != NULL) {
            if (*slot != NULL) {
                return fail(EXIT_INVALID, arg, " given twice (try --help)");
            }
            if (i + 1 >= argc) {
                return fail(EXIT_INVALID, arg, " needs a value (try --help)");
            }
            *slot = argv[++i];
        } else if (looks_like_flag(arg)) {
            fprintf(stderr, "hero_send: unknown option %s (try --help)\n", arg);
            return EXIT_INVALID;
        } else {
            return fail(EXIT_INVALID, "unexpected argument (try --help)", NULL);
        }
    }
    if (o->patient_id == NULL) {
        return fail(EXIT_INVALID, "--patient-id is required (try --help)", NULL);
    }
    if (o->type == NULL) {
        return fail(EXIT_INVALID, "--type is required (try --help)", NULL);
    }
    if (o->message == NULL) {
        return fail(EXIT_INVALID, "--message is required (try --help)", NULL);
    }
    if (o->timeout != NULL && !parse_seconds_ms(o->timeout, &o->timeout_ms)) {
        return fail(EXIT_INVALID, "--timeout must be a number of seconds", NULL);
    }
    return check_opposites(o);
}

/* The exit code for a failed library call, from its hero_error. */
static int exit_code_for(hero_status status, const hero_error *err)
{
    hero_kind kind = hero_error_kind(err);
    switch (status) {
    case HERO_NOT_SENT:
        return (kind == HERO_KIND_INVALID_INPUT || kind == HERO_KIND_CONFIG)
                   ? EXIT_INVALID
                   : EXIT_NOT_CONNECTED;
    case HERO_REFUSED:
        return kind == HERO_KIND_RATE_LIMITED ? EXIT_RATE_LIMITED : EXIT_REFUSED;
    case HERO_ACCEPTED_ID_UNKNOWN:
        return EXIT_ACCEPTED_ID_UNKNOWN;
    case HERO_MAY_HAVE_BEEN_SENT:
    default:
        /* Anything unexpected from a send: assume the worst. */
        return EXIT_MAY_HAVE_BEEN_SENT;
    }
}

/* Reports a failed library call on one line and returns its exit code. */
static int report(hero_status status, const hero_error *err)
{
    const char *text = hero_error_message(err);
    const char *reason;
    if (text == NULL) {
        /* Only for misuse codes, which carry no hero_error. */
        fprintf(stderr, "hero_send: unexpected status %d%s\n", (int)status,
                status == HERO_MAY_HAVE_BEEN_SENT ? "; the message may have been sent" : "");
        return exit_code_for(status, err);
    }
    /* The server's reason may quote patient data: it goes only to this
     * operator's terminal, never into the library's texts or logs. */
    reason = hero_error_server_message(err);
    fprintf(stderr, "hero_send: %s%s%s\n", text, reason != NULL ? "; server says: " : "",
            reason != NULL ? reason : "");
    return exit_code_for(status, err);
}

/* A setter's status when setting `flag`: -1 on success, else an exit code.
 * Setters fail only on misuse; nothing has been sent yet. */
static int check_set(hero_status status, const char *flag)
{
    switch (status) {
    case HERO_OK:
        return -1;
    case HERO_INVALID_UTF8:
        return fail(EXIT_INVALID, flag, " is not valid UTF-8");
    case HERO_INVALID_ARGUMENT:
        return fail(EXIT_INVALID, flag, " has an invalid value (try --help)");
    default:
        fprintf(stderr, "hero_send: could not set %s (status %d); nothing was sent\n", flag,
                (int)status);
        return EXIT_INVALID;
    }
}

/* The explicit-false flags and --encrypted-text. -1 on success. */
static int set_false_and_text(const struct options *o, hero_message *m)
{
    int rc = -1;
    if (rc == -1 && o->no_write_to_record) {
        rc = check_set(hero_message_set_write_to_record(m, false), "--no-write-to-record");
    }
    if (rc == -1 && o->no_auto_write_to_record) {
        rc = check_set(hero_message_set_auto_write_to_record(m, false),
                       "--no-auto-write-to-record");
    }
    if (rc == -1 && o->no_encrypted) {
        rc = check_set(hero_message_set_encrypted(m, false), "--no-encrypted");
    }
    if (rc == -1 && o->encrypted_text != NULL) {
        rc = check_set(hero_message_set_encrypted_text(m, o->encrypted_text), "--encrypted-text");
    }
    return rc;
}

/* Builds the message from the options into *out. -1 on success. */
static int build_message(const struct options *o, hero_message **out)
{
    hero_message *m = NULL;
    hero_message_type type = 0;
    int rc;
    size_t k;

    if (hero_message_type_from_name(o->type, &type) != HERO_OK) {
        return bad_name("--type", TYPE_NAMES);
    }
    rc = check_set(hero_message_new(o->patient_id, type, o->message, &m),
                   "--patient-id or --message");
    if (rc != -1) {
        return rc;
    }
    *out = m; /* freed by the caller whatever happens next */

    for (k = 0; k < STRING_FLAG_COUNT; k++) {
        if (o->strings[k] != NULL) {
            rc = check_set(STRING_FLAGS[k].set(m, o->strings[k]), STRING_FLAGS[k].flag);
            if (rc != -1) {
                return rc;
            }
        }
    }
    if (o->fallback_type != NULL) {
        hero_fallback_type fallback = 0;
        if (hero_fallback_type_from_name(o->fallback_type, &fallback) != HERO_OK) {
            return bad_name("--fallback-type", FALLBACK_TYPE_NAMES);
        }
        rc = check_set(hero_message_set_fallback_message_type(m, fallback), "--fallback-type");
        if (rc != -1) {
            return rc;
        }
    }
    if (o->assignee_id != NULL) {
        long long id = 0;
        if (!parse_int64(o->assignee_id, &id)) {
            return fail(EXIT_INVALID, "--assignee-id must be a whole decimal number", NULL);
        }
        rc = check_set(hero_message_set_assignee_id(m, (int64_t)id), "--assignee-id");
        if (rc != -1) {
            return rc;
        }
    }
    if (o->assignee_type != NULL) {
        hero_assignee_type assignee = 0;
        if (hero_assignee_type_from_name(o->assignee_type, &assignee) != HERO_OK) {
            return bad_name("--assignee-type", ASSIGNEE_TYPE_NAMES);
        }
        rc = check_set(hero_message_set_assignee_type(m, assignee), "--assignee-type");
        if (rc != -1) {
            return rc;
        }
    }
    if (o->write_to_record) {
        rc = check_set(hero_message_set_write_to_record(m, true), "--write-to-record");
        if (rc != -1) {
            return rc;
        }
    }
    if (o->auto_write_to_record) {
        rc = check_set(hero_message_set_auto_write_to_record(m, true), "--auto-write-to-record");
        if (rc != -1) {
            return rc;
        }
    }
    if (o->encrypted) {
        rc = check_set(hero_message_set_encrypted(m, true), "--encrypted");
        if (rc != -1) {
            return rc;
        }
    }
    return set_false_and_text(o, m);
}

/* Makes the client from the environment and the options. -1 on success. */
static int build_client(const struct options *o, hero_client **out)
{
    hero_config *config = NULL;
    hero_error *err = NULL;
    hero_status status;
    int rc = -1;

    status = hero_config_new_from_env(&config, &err);
    if (status != HERO_OK) {
        rc = report(status, err);
        if (status != HERO_NOT_SENT) {
            rc = EXIT_INVALID; /* misuse status: nothing was sent either way */
        }
        hero_error_free(err);
        return rc;
    }
    if (o->timeout != NULL) {
        rc = check_set(hero_config_set_deadline_ms(config, o->timeout_ms), "--timeout");
    }
    if (rc == -1 && o->lenient) {
        rc = check_set(hero_config_set_strict_checks(config, false), "--lenient");
    }
    if (rc == -1) {
        status = hero_client_new(config, out, &err);
        if (status != HERO_OK) {
            rc = report(status, err);
            if (status != HERO_NOT_SENT) {
                rc = EXIT_INVALID;
            }
        }
    }
    hero_config_free(config);
    hero_error_free(err);
    return rc;
}

/* ------------------------------------------------------------------------
 * Batch mode. The library reads the file, sends, keeps the journal, and
 * decides every row's outcome, its JSON line, the counts and the batch's
 * class; this part only parses flags, prints and maps the class to an
 * exit code.
 * ------------------------------------------------------------------------ */

enum { EXIT_BATCH_INCOMPLETE = 9 };

static const char BATCH_USAGE[] =
    "Usage: hero_send --batch FILE --journal FILE [--concurrency N] [--rate PER_SECOND]\n"
    "                 [--timeout SECONDS] [--check] [field flags as defaults]\n"
    "       hero_send --journal FILE --pending\n"
    "       hero_send --journal FILE --resolve KEY --as sent|not-sent\n"
    "       hero_send --journal FILE --salvage NEW_FILE [--batch ROWS [field flags]]\n"
    "\n"
    "Sends one message per row of FILE: CSV with a header row (.csv) or JSON Lines\n"
    "(.jsonl). Columns named as request fields (patient_id, message_type,\n"
    "message_string, recipient_contact_detail, ...) fill them; an optional key column\n"
    "names each send (otherwise the key is derived from the request body); every other\n"
    "column fills ((name)) placeholders in message_string. Field flags of the single\n"
    "send (--type, --message, ...) give defaults for empty cells; the recipient's\n"
    "fields (--patient-id, --recipient, --fallback-contact) cannot: each row gives its own.\n"
    "\n"
    "  --journal FILE       the send journal: a rerun skips what went and holds back\n"
    "                       rows that may have gone (required to send)\n"
    "  --check              check every row, placeholders included; send nothing\n"
    "  --concurrency N      rows sent at once (default 4; 1 keeps file order)\n"
    "  --rate PER_SECOND    at most this many sends per second\n"
    "  --timeout SECONDS    deadline per row, retries included (default 30)\n"
    "  --pending            list the journal's flagged keys as JSON lines (a damaged\n"
    "                       journal too: what its readable records show; exit 2)\n"
    "  --salvage NEW_FILE   write a new journal from a damaged one, every key not\n"
    "                       proven sent flagged (check in Hero, then --resolve); with\n"
    "                       --batch ROWS also every row no readable record names\n"
    "                       (exit 6 if anything is flagged or, without ROWS, may be lost)\n"
    "  --resolve KEY --as sent|not-sent   record what Hero shows for a flagged key\n"
    "\n"
    "stdout: one JSON object per row (row, key, outcome, message_id, http_status,\n"
    "error). stderr: progress when it is a terminal, and one summary line.\n"
    "Ctrl-C stops starting rows; rows in flight finish. Exit codes: 0 every row sent,\n"
    "already sent, a duplicate, or accepted; 6 some row MAY HAVE BEEN SENT or needs\n"
    "reconciliation (check in Hero, then --resolve); 9 otherwise some rows were not\n"
    "sent; 2 the batch could not start.\n";

/* Field flags as row defaults: the flag, the request field it names, and
 * its fixed value for flags that take none (NULL: the next argument). */
static const struct {
    const char *flag;
    const char *field;
    const char *fixed;
} BATCH_DEFAULT_FLAGS[] = {
    {"--patient-id", "patient_id", NULL},
    {"--type", "message_type", NULL},
    {"--message", "message_string", NULL},
    {"--recipient", "recipient_contact_detail", NULL},
    {"--fallback-type", "fallback_message_type", NULL},
    {"--fallback-contact", "fallback_contact_detail", NULL},
    {"--snomed-code", "snomed_code", NULL},
    {"--snomed-term", "snomed_term", NULL},
    {"--task-id", "task_id", NULL},
    {"--attachment-uuid", "attachment_uuid", NULL},
    {"--short-link-id", "short_link_id", NULL},
    {"--assignee-id", "assignee_id", NULL},
    {"--assignee-type", "assignee_type", NULL},
    {"--send-at", "send_at", NULL},
    {"--write-to-record", "write_to_record", "true"},
    {"--no-write-to-record", "write_to_record", "false"},
    {"--auto-write-to-record", "auto_write_to_record", "true"},
    {"--no-auto-write-to-record", "auto_write_to_record", "false"},
    {"--encrypted", "encrypted", "true"},
    {"--no-encrypted", "encrypted", "false"},
    {"--encrypted-text", "encrypted", NULL},
};
#define BATCH_DEFAULT_COUNT (sizeof BATCH_DEFAULT_FLAGS / sizeof BATCH_DEFAULT_FLAGS[0])

struct batch_options {
    const char *batch;
    const char *journal;
    const char *resolve;
    const char *salvage;
    const char *as;
    const char *concurrency;
    const char *rate;
    const char *timeout;
    const char *defaults[BATCH_DEFAULT_COUNT];
    bool check;
    bool pending;
    bool lenient;
};

/* Read by the interrupt handler: set before the handler is installed. */
static hero_batch_stop *batch_stop_handle = NULL;

#ifndef _WIN32
/* Ctrl-C: stop starting rows (an atomic store in the library, safe here);
 * a second Ctrl-C ends the program at once, as usual. */
static void batch_on_interrupt(int sig)
{
    hero_batch_stop_trigger(batch_stop_handle);
    signal(sig, SIG_DFL);
}
#else
static BOOL WINAPI batch_on_console_ctrl(DWORD type)
{
    static volatile LONG pressed = 0;
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT) {
        return FALSE;
    }
    hero_batch_stop_trigger(batch_stop_handle);
    /* The first press is handled; a second one falls through to the default. */
    return InterlockedExchange(&pressed, 1) == 0 ? TRUE : FALSE;
}
#endif

static void batch_catch_interrupt(hero_batch_stop *stop)
{
    batch_stop_handle = stop;
#ifdef _WIN32
    SetConsoleCtrlHandler(batch_on_console_ctrl, TRUE);
#else
    signal(SIGINT, batch_on_interrupt);
#endif
}

static bool stderr_is_terminal(void)
{
#ifdef _WIN32
    return _isatty(2) != 0;
#else
    return isatty(2) != 0;
#endif
}

/* True when the arguments ask for batch mode: a batch-only flag appears
 * where a flag is expected (flag values are skipped, so a message text
 * that happens to read "--batch" does not count). */
static bool is_batch_mode(int argc, char **argv)
{
    static const char *const only_batch[] = {"--batch", "--journal", "--pending", "--resolve", "--salvage",
                                             "--as", "--check", "--concurrency", "--rate"};
    static const char *const no_value[] = {
        "--write-to-record", "--no-write-to-record", "--auto-write-to-record",
        "--no-auto-write-to-record", "--encrypted", "--no-encrypted", "--lenient", "--help"};
    int i;
    size_t k;
    for (i = 1; i < argc; i++) {
        bool plain = false;
        for (k = 0; k < sizeof only_batch / sizeof only_batch[0]; k++) {
            if (strcmp(argv[i], only_batch[k]) == 0) {
                return true;
            }
        }
        for (k = 0; k < sizeof no_value / sizeof no_value[0]; k++) {
            plain = plain || strcmp(argv[i], no_value[k]) == 0;
        }
        if (!plain) {
            i++; /* skip the flag's value */
        }
    }
    return false;
}

/* Parses batch-mode argv. Returns -1 to go on, or an exit code. */
static int batch_parse_args(int argc, char **argv, struct batch_options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        bool *flag = NULL;
        const char *fixed = NULL;
        size_t k;

        if (strcmp(arg, "--help") == 0) {
            fputs(BATCH_USAGE, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        } else if (strcmp(arg, "--check") == 0) {
            flag = &o->check;
        } else if (strcmp(arg, "--pending") == 0) {
            flag = &o->pending;
        } else if (strcmp(arg, "--lenient") == 0) {
            flag = &o->lenient;
        } else if (strcmp(arg, "--batch") == 0) {
            slot = &o->batch;
        } else if (strcmp(arg, "--journal") == 0) {
            slot = &o->journal;
        } else if (strcmp(arg, "--resolve") == 0) {
            slot = &o->resolve;
        } else if (strcmp(arg, "--salvage") == 0) {
            slot = &o->salvage;
        } else if (strcmp(arg, "--as") == 0) {
            slot = &o->as;
        } else if (strcmp(arg, "--concurrency") == 0) {
            slot = &o->concurrency;
        } else if (strcmp(arg, "--rate") == 0) {
            slot = &o->rate;
        } else if (strcmp(arg, "--timeout") == 0) {
            slot = &o->timeout;
        } else {
            for (k = 0; k < BATCH_DEFAULT_COUNT && slot == NULL; k++) {
                if (strcmp(arg, BATCH_DEFAULT_FLAGS[k].flag) == 0) {
                    size_t first = 0;
                    /* One slot per field, so that two flags for one field clash. */
                    while (strcmp(BATCH_DEFAULT_FLAGS[first].field, BATCH_DEFAULT_FLAGS[k].field) != 0) {
                        first++;
                    }
                    slot = &o->defaults[first];
                    fixed = BATCH_DEFAULT_FLAGS[k].fixed;
                }
            }
        }

        if (fixed != NULL) {
            if (*slot != NULL) {
                return fail(EXIT_INVALID, arg,
                            " given twice, or with a flag for the same field (try --batch --help)");
            }
            *slot = fixed;
        } else if (flag != NULL) {
            if (*flag) {
                return fail(EXIT_INVALID, arg, " given twice (try --batch --help)");
            }
            *flag = true;
        } else if (slot != NULL) {
            if (*slot != NULL) {
                return fail(EXIT_INVALID, arg, " given twice (try --batch --help)");
            }
            if (i + 1 >= argc) {
                return fail(EXIT_INVALID, arg, " needs a value (try --batch --help)");
            }
            *slot = argv[++i];
        } else if (looks_like_flag(arg)) {
            return fail(EXIT_INVALID, "unknown option ", arg);
        } else {
            return fail(EXIT_INVALID, "unexpected argument (try --batch --help)", NULL);
        }
    }
    return -1;
}

/* A failed library call in batch mode: one line, exit 2 (nothing was sent). */
static int batch_report(hero_status status, const hero_error *err)
{
    const char *text = hero_error_message(err);
    if (text != NULL) {
        fprintf(stderr, "hero_send: %s\n", text);
    } else {
        fprintf(stderr, "hero_send: unexpected status %d\n", (int)status);
    }
    /* Only a batch that broke off midway (an internal error) can have sent rows. */
    return status == HERO_MAY_HAVE_BEEN_SENT ? EXIT_MAY_HAVE_BEEN_SENT : EXIT_INVALID;
}

/* A number (decimals allowed), or false; its range is the library's rule. */
static bool parse_number(const char *text, double *out)
{
    char *end = NULL;
    if (text[0] == '\0' || text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r')) {
        return false;
    }
    errno = 0;
    *out = strtod(text, &end);
    return errno == 0 && *end == '\0';
}

/* The client from the environment and the batch flags. -1 on success. */
static int batch_build_client(const struct batch_options *o, hero_client **out)
{
    hero_config *config = NULL;
    hero_error *err = NULL;
    hero_status status;
    uint32_t timeout_ms = 0;
    double rate = 0.0;
    int rc = -1;

    if (o->timeout != NULL && !parse_seconds_ms(o->timeout, &timeout_ms)) {
        return fail(EXIT_INVALID, "--timeout must be a number of seconds", NULL);
    }
    if (o->rate != NULL && !parse_number(o->rate, &rate)) {
        return fail(EXIT_INVALID, "--rate must be a number of sends per second", NULL);
    }
    status = hero_config_new_from_env(&config, &err);
    if (status != HERO_OK) {
        rc = batch_report(status, err);
        hero_error_free(err);
        return rc;
    }
    if (o->timeout != NULL) {
        rc = check_set(hero_config_set_deadline_ms(config, timeout_ms), "--timeout");
    }
    if (rc == -1 && o->rate != NULL) {
        rc = check_set(hero_config_set_max_sends_per_second(config, rate), "--rate");
    }
    if (rc == -1 && o->lenient) {
        rc = check_set(hero_config_set_strict_checks(config, false), "--lenient");
    }
    if (rc == -1) {
        status = hero_client_new(config, out, &err);
        if (status != HERO_OK) {
            rc = batch_report(status, err);
        }
    }
    hero_config_free(config);
    hero_error_free(err);
    return rc;
}

/* Opens the journal (one that must exist already, to read it back). -1 on
 * success, else an exit code. */
static int batch_open_journal(const char *path, bool existing, hero_journal **out)
{
    hero_error *err = NULL;
    hero_status status =
        existing ? hero_journal_open_existing(path, out, &err) : hero_journal_open(path, out, &err);
    int rc = status == HERO_OK ? -1 : batch_report(status, err);
    hero_error_free(err);
    return rc;
}

/* --pending: the journal's flagged keys, one JSON object a line; of a
 * damaged journal, what its readable records show, and exit 2. */
static int batch_pending(const struct batch_options *o)
{
    hero_journal *journal = NULL;
    hero_error *err = NULL;
    char *lines = NULL;
    hero_status status = hero_journal_open_to_read(o->journal, &journal, &err);
    int rc = status == HERO_OK ? -1 : batch_report(status, err);
    hero_error_free(err);
    if (rc == -1) {
        const char *damage = hero_journal_damage(journal);
        status = hero_journal_pending(journal, &lines);
        if (status != HERO_OK) {
            rc = batch_report(status, NULL);
        } else {
            rc = (fputs(lines, stdout) >= 0 && fflush(stdout) == 0) ? EXIT_SENT : 1;
        }
        if (damage != NULL) {
            fprintf(stderr, "hero_send: %s\nhero_send: listed what its readable records show; "
                            "a key whose every record was lost is not listed\n", damage);
            rc = rc == EXIT_SENT ? EXIT_INVALID : rc;
        }
    }
    hero_string_free(lines);
    hero_journal_free(journal);
    return rc;
}

/* --resolve KEY --as sent|not-sent. */
static int batch_resolve(const struct batch_options *o)
{
    hero_journal *journal = NULL;
    hero_error *err = NULL;
    hero_resolution resolution = 0;
    int rc;

    if (o->as == NULL) {
        return fail(EXIT_INVALID, "--resolve needs --as sent|not-sent", NULL);
    }
    if (hero_resolution_from_name(o->as, &resolution) != HERO_OK) {
        return fail(EXIT_INVALID, "--as must be sent or not-sent", NULL);
    }
    rc = batch_open_journal(o->journal, true, &journal);
    if (rc == -1) {
        hero_status status = hero_journal_resolve(journal, o->resolve, resolution, &err);
        if (status != HERO_OK) {
            rc = batch_report(status, err);
        } else {
            fprintf(stderr, "hero_send: the key is resolved as %s\n", o->as);
            rc = EXIT_SENT;
        }
    }
    hero_error_free(err);
    hero_journal_free(journal);
    return rc;
}

struct batch_printer {
    bool progress;  /* stderr is a terminal */
    size_t shown;   /* width of the progress line on screen */
};

/* Clears the progress line, if one is shown. */
static void batch_clear_progress(struct batch_printer *p)
{
    if (p->shown > 0) {
        fprintf(stderr, "\r%*s\r", (int)p->shown, "");
        p->shown = 0;
    }
}

/* Called by the library once per finished row, on this thread. */
static void batch_on_row(void *user_data, const hero_batch_row *row,
                         const hero_batch_summary *progress)
{
    struct batch_printer *p = user_data;
    const char *json = hero_batch_row_json(row);
    if (json != NULL) {
        puts(json);
        fflush(stdout);
    }
    if (p->progress) {
        const char *line = hero_batch_summary_progress_line(progress);
        if (line != NULL) {
            size_t n = strlen(line);
            fprintf(stderr, "\r%s", line);
            if (n < p->shown) {
                fprintf(stderr, "%*s", (int)(p->shown - n), "");
            }
            p->shown = n > p->shown ? n : p->shown;
            fflush(stderr);
        }
    }
}

/* Sets the batch options from the flags. -1 on success. */
static int batch_set_options(const struct batch_options *o, hero_batch_options *options,
                             hero_batch_stop *stop)
{
    size_t k;
    int rc = -1;
    for (k = 0; k < BATCH_DEFAULT_COUNT && rc == -1; k++) {
        if (o->defaults[k] != NULL) {
            hero_status status = hero_batch_options_set_default(
                options, BATCH_DEFAULT_FLAGS[k].field, o->defaults[k]);
            /* Every field named here exists, so the library refused this
               one as a default: it says who receives the message. */
            rc = status == HERO_INVALID_ARGUMENT
                     ? fail(EXIT_INVALID, BATCH_DEFAULT_FLAGS[k].flag,
                            " cannot be a batch default: each row must name its own recipient")
                     : check_set(status, BATCH_DEFAULT_FLAGS[k].flag);
        }
    }
    if (rc == -1 && o->concurrency != NULL) {
        long long n = 0;
        if (!parse_int64(o->concurrency, &n) || n < 0 || n > 0xFFFFFFFFLL) {
            return fail(EXIT_INVALID, "--concurrency must be a whole number", NULL);
        }
        rc = check_set(hero_batch_options_set_concurrency(options, (uint32_t)n), "--concurrency");
    }
    if (rc == -1) {
        rc = check_set(hero_batch_options_set_check_only(options, o->check), "--check");
    }
    if (rc == -1) {
        rc = check_set(hero_batch_options_set_stop(options, stop), "--batch");
    }
    return rc;
}

/* The batch's settings, stop handle and client, as --batch and --salvage
 * --batch both read the rows file. -1 on success, else the exit code. */
static int batch_setup(const struct batch_options *o, hero_batch_options **options, hero_batch_stop **stop,
                       hero_client **client)
{
    int rc = -1;
    if (hero_batch_options_new(options) != HERO_OK || hero_batch_stop_new(stop) != HERO_OK) {
        rc = fail(EXIT_INVALID, "could not set up the batch", NULL);
    }
    if (rc == -1) {
        rc = batch_set_options(o, *options, *stop);
    }
    if (rc == -1) {
        rc = batch_build_client(o, client);
    }
    return rc;
}

/* Prints a salvage time (ms since 1970) as UTC, or "unknown" for 0. */
static void print_salvage_time(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm *tm = ms == 0 ? NULL : gmtime(&t);
    char text[32];
    if (tm == NULL || strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", tm) == 0) {
        fputs("unknown", stderr);
    } else {
        fputs(text, stderr);
    }
}

/* --salvage NEW_FILE [--batch ROWS]: a new journal from a damaged one. The
 * rows file, read as --batch reads it, lets salvage flag the rows whose
 * every record was lost. Exit 6 whenever anything is flagged or may have
 * been lost unseen. */
static int batch_salvage(const struct batch_options *o)
{
    hero_batch_options *options = NULL;
    hero_batch_stop *stop = NULL;
    hero_client *client = NULL;
    hero_error *err = NULL;
    hero_salvage_report report;
    int rc = -1;
    memset(&report, 0, sizeof report);
    if (o->batch != NULL) {
        rc = batch_setup(o, &options, &stop, &client);
    }
    if (rc == -1) {
        hero_status status =
            hero_journal_salvage(o->journal, o->salvage, client, options, o->batch, &report, &err);
        if (status != HERO_OK) {
            rc = batch_report(status, err);
        } else {
            fprintf(stderr, "hero_send: wrote %s with %lu keys flagged (%lu sent)", o->salvage,
                    (unsigned long)report.flagged, (unsigned long)report.sent);
            if (report.rows_given) {
                fprintf(stderr, ", %lu of them rows of %s that no readable record names "
                                "(flagging a row never attempted is safe)", (unsigned long)report.unnamed_rows, o->batch);
            }
            fputs(": check each in Hero, then --resolve it; use the new journal from now on\n", stderr);
            if (!report.rows_given) {
                fputs("hero_send: WARNING: a row whose every record was lost cannot be named without "
                      "the rows file (--batch ROWS); rerunning would send it again. Salvage again with "
                      "--batch ROWS, or check in Hero what was sent", stderr);
                if (report.damaged) {
                    fputs(" between ", stderr);
                    print_salvage_time(report.window_from_ms);
                    fputs(" and ", stderr);
                    print_salvage_time(report.window_to_ms);
                }
                fputs("\n", stderr);
            }
            rc = report.flagged > 0 || !report.rows_given ? EXIT_MAY_HAVE_BEEN_SENT : EXIT_SENT;
        }
    }
    hero_error_free(err);
    hero_client_free(client);
    hero_batch_options_free(options);
    hero_batch_stop_free(stop);
    return rc;
}

/* --batch FILE: send (or check) every row; exit code from the batch's class. */
static int batch_run(const struct batch_options *o)
{
    hero_batch_options *options = NULL;
    hero_batch_stop *stop = NULL;
    hero_client *client = NULL;
    hero_journal *journal = NULL;
    hero_batch_summary *summary = NULL;
    hero_error *err = NULL;
    struct batch_printer printer;
    int rc = -1;

    if (!o->check && o->journal == NULL) {
        return fail(EXIT_INVALID, "--journal FILE is required to send a batch (or use --check)",
                    NULL);
    }
    printer.progress = stderr_is_terminal();
    printer.shown = 0;
    rc = batch_setup(o, &options, &stop, &client);
    if (rc == -1 && !o->check) {
        rc = batch_open_journal(o->journal, false, &journal);
    }
    if (rc == -1) {
        hero_status status;
        batch_catch_interrupt(stop);
        status = hero_batch_run(client, journal, o->batch, options, batch_on_row, &printer,
                                &summary, &err);
        batch_clear_progress(&printer);
        if (status != HERO_OK) {
            rc = batch_report(status, err);
        } else {
            fprintf(stderr, "hero_send: %s\n", hero_batch_summary_line(summary));
            switch (hero_batch_summary_class(summary)) {
            case HERO_BATCH_COMPLETE:
                rc = EXIT_SENT;
                break;
            case HERO_BATCH_INCOMPLETE:
                rc = EXIT_BATCH_INCOMPLETE;
                break;
            case HERO_BATCH_FLAGGED:
            default:
                rc = EXIT_MAY_HAVE_BEEN_SENT;
                break;
            }
        }
#ifdef _WIN32
        SetConsoleCtrlHandler(batch_on_console_ctrl, FALSE);
#else
        signal(SIGINT, SIG_DFL);
#endif
    }
    hero_batch_summary_free(summary);
    hero_error_free(err);
    hero_journal_free(journal);
    hero_client_free(client);
    hero_batch_options_free(options);
    hero_batch_stop_free(stop);
    return rc;
}

/* Batch mode's main: one of --batch, --pending, --resolve, --salvage. */
static int batch_main(int argc, char **argv)
{
    struct batch_options o;
    int rc;
    memset(&o, 0, sizeof o);
    rc = batch_parse_args(argc, argv, &o);
    if (rc != -1) {
        return rc;
    }
    /* --salvage takes the rows file too. */
    if ((o.batch != NULL && o.salvage == NULL) + o.pending + (o.resolve != NULL) + (o.salvage != NULL) != 1) {
        return fail(EXIT_INVALID,
                    "give exactly one of --batch FILE, --pending, --resolve KEY, --salvage NEW_FILE "
                    "(try --batch --help)",
                    NULL);
    }
    if ((o.batch == NULL || o.salvage != NULL) && o.journal == NULL) {
        return fail(EXIT_INVALID, "--journal FILE is required (try --batch --help)", NULL);
    }
    if (o.pending) {
        return batch_pending(&o);
    }
    if (o.resolve != NULL) {
        return batch_resolve(&o);
    }
    if (o.salvage != NULL) {
        return batch_salvage(&o);
    }
    return batch_run(&o);
}

/* The program, given UTF-8 arguments. */
static int run(int argc, char **argv)
{
    struct options opts;
    hero_client *client = NULL;
    hero_message *message = NULL;
    hero_response *response = NULL;
    hero_error *err = NULL;
    hero_status status;
    int rc;

    if (is_batch_mode(argc, argv)) {
        return batch_main(argc, argv);
    }
    memset(&opts, 0, sizeof opts);
    rc = parse_args(argc, argv, &opts);
    if (rc != -1) {
        return rc;
    }
    rc = build_message(&opts, &message);
    if (rc == -1) {
        rc = build_client(&opts, &client);
    }
    if (rc == -1) {
        status = hero_client_send(client, message, &response, &err);
        if (status == HERO_OK) {
            const char *json = hero_response_json(response);
            if (json != NULL && puts(json) >= 0 && fflush(stdout) == 0) {
                rc = EXIT_SENT;
            } else {
                /* Hero has the message; only our output failed. */
                fprintf(stderr,
                        "hero_send: accepted by Hero as %s, but the reply could not be "
                        "written out; do not resend\n",
                        hero_response_message_id(response));
                rc = EXIT_ACCEPTED_ID_UNKNOWN;
            }
        } else {
            rc = report(status, err);
        }
    }
    hero_response_free(response);
    hero_error_free(err);
    hero_message_free(message);
    hero_client_free(client);
    return rc;
}

#ifdef _WIN32
/* Windows passes `main` its arguments in the ANSI code page, which cannot
 * hold "ŵ" or an emoji (and holds "£" only in some), so hero_send would
 * refuse such a message. `wmain` gets them as UTF-16 (MinGW: -municode),
 * converted here to the UTF-8 the library takes. */
static char *utf16_to_utf8(const wchar_t *text)
{
    int size = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, -1, NULL, 0, NULL, NULL);
    char *out;
    if (size <= 0) {
        return NULL;
    }
    out = malloc((size_t)size);
    if (out != NULL &&
        WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, text, -1, out, size, NULL, NULL) != size) {
        free(out);
        out = NULL;
    }
    return out;
}

int wmain(int argc, wchar_t **wargv)
{
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    int i, rc;
    if (argv == NULL) {
        return fail(EXIT_INVALID, "out of memory", NULL);
    }
    for (i = 0; i < argc; i++) {
        argv[i] = utf16_to_utf8(wargv[i]);
        if (argv[i] == NULL) {
            /* An unpaired surrogate, or no memory: nothing is sent. */
            rc = fail(EXIT_INVALID, "an argument could not be converted to UTF-8", NULL);
            goto done;
        }
    }
    rc = run(argc, argv);
done:
    for (i = 0; i < argc; i++) {
        free(argv[i]);
    }
    free(argv);
    return rc;
}
#else
int main(int argc, char **argv)
{
    return run(argc, argv);
}
#endif

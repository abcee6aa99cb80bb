/*
 * hero_send, batch mode: one message per row of a CSV or JSON Lines file,
 * through a send journal, so a rerun sends only what has not gone; and the
 * journal's --pending, --resolve and --salvage.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------
 * Batch mode. The library reads the file, sends, keeps the journal, and
 * decides every row's outcome, its JSON line, the counts and the batch's
 * class; this part only parses flags, prints and maps the class to an
 * exit code.
 * ------------------------------------------------------------------------ */

static const char BATCH_USAGE[] =
    "Usage: hero_send --batch FILE --journal FILE [--concurrency N] [--rate PER_SECOND]\n"
    "                 [--timeout SECONDS] [--check] [--report FILE.csv]\n"
    "                 [--column FIELD=HEADER]... [field flags as defaults]\n"
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
    "Headers match field names ignoring case, spaces, hyphens and underscores (NHS Number\n"
    "= nhs_number; Date of Birth, Forename(s), Surname, Postcode for the lookup). A row\n"
    "may name the patient by nhs_number and dob (dd/mm/yyyy or YYYY-MM-DD), or by\n"
    "forename, surname, dob and postcode, instead of patient_id: each patient is looked\n"
    "up once per run. send_at may be UK local time (2027-03-29 09:00, 29/03/2027 09:00).\n"
    "\n"
    "  --journal FILE       the send journal: a rerun skips what went and holds back\n"
    "                       rows that may have gone (required to send)\n"
    "  --check              check every row, placeholders included; send nothing;\n"
    "                       stderr says how each column header was understood\n"
    "  --column FIELD=HEADER  read the column HEADER as FIELD (repeatable), e.g.\n"
    "                       --column recipient_contact_detail=\"Mobile Telephone\"\n"
    "  --report FILE.csv    write the input rows with outcome, message_id and reason\n"
    "                       added (created readable by its owner only)\n"
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
    "error; login_url for verify_identity). stderr: progress when it is a terminal, and one summary line.\n"
    "Ctrl-C stops starting rows; rows in flight finish. Exit codes: 0 every row sent,\n"
    "already sent, a duplicate, or accepted; 6 some row MAY HAVE BEEN SENT or needs\n"
    "reconciliation (check in Hero, then --resolve); 9 otherwise some rows were not\n"
    "sent; 2 the batch could not start.\n";

struct batch_options {
    const char *batch;
    const char *journal;
    const char *resolve;
    const char *salvage;
    const char *as;
    const char *concurrency;
    const char *rate;
    const char *timeout;
    const char *report;
    /* --column values, FIELD=HEADER, in order; the library checks them. */
    const char *columns[64];
    size_t column_count;
    struct field_values defaults;
    bool check;
    bool pending;
    bool lenient;
};

/* Ctrl-C: start no new row; rows in flight finish and are reported. */
static void stop_batch(void *stop)
{
    hero_batch_stop_trigger((const hero_batch_stop *)stop);
}

/* True when the arguments ask for batch mode: a batch-only flag appears
 * where a flag is expected (flag values are skipped, so a message text
 * that happens to read "--batch" does not count). */
bool is_batch_mode(int argc, char **argv)
{
    static const char *const only_batch[] = {"--batch", "--journal", "--pending", "--resolve",
                                             "--salvage", "--as", "--check", "--concurrency",
                                             "--rate", "--column", "--report"};
    static const char *const no_value[] = {"--lenient", "--help"};
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
        for (k = 0; k < FIELD_FLAG_COUNT; k++) {
            plain = plain || (FIELD_FLAGS[k].fixed != NULL && strcmp(argv[i], FIELD_FLAGS[k].flag) == 0);
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
        } else if (strcmp(arg, "--report") == 0) {
            slot = &o->report;
        } else if (strcmp(arg, "--column") == 0) {
            if (i + 1 >= argc) {
                return fail(EXIT_INVALID, arg, " needs a value (try --batch --help)");
            }
            if (o->column_count == sizeof o->columns / sizeof o->columns[0]) {
                return fail(EXIT_INVALID, "too many --column options", NULL);
            }
            o->columns[o->column_count++] = argv[++i];
            continue;
        } else {
            int rc = take_field_flag(argc, argv, &i, &o->defaults, "(try --batch --help)");
            if (rc == -1) {
                continue;
            }
            if (rc != -2) {
                return rc;
            }
        }

        if (flag != NULL) {
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

/* A failed library call in batch mode: one line; the library's exit code
 * (2 for anything that stopped the batch before it sent a row). */
static int batch_report(hero_status status, const hero_error *err)
{
    const char *text = hero_error_message(err);
    if (text != NULL) {
        fprintf(stderr, "hero_send: %s\n", text);
    } else {
        fprintf(stderr, "hero_send: unexpected status %d\n", (int)status);
    }
    return hero_exit_code((uint32_t)status, err);
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
            /* Reading the journal sends nothing. */
            batch_report(status, NULL);
            rc = EXIT_INVALID;
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

/* One --column FIELD=HEADER. -1 on success. */
static int batch_set_column(hero_batch_options *options, const char *mapping)
{
    const char *eq = strchr(mapping, '=');
    char field[64];
    size_t n = eq == NULL ? 0 : (size_t)(eq - mapping);
    if (eq == NULL || n == 0 || n >= sizeof field || eq[1] == '\0') {
        return fail(EXIT_INVALID, "--column must be FIELD=HEADER", NULL);
    }
    memcpy(field, mapping, n);
    field[n] = '\0';
    if (hero_batch_options_set_column(options, field, eq + 1) == HERO_INVALID_ARGUMENT) {
        return fail(EXIT_INVALID, "--column names no field a column may fill: ", field);
    }
    return -1;
}

/* Sets the batch options from the flags. -1 on success. */
static int batch_set_options(const struct batch_options *o, hero_batch_options *options,
                             hero_batch_stop *stop)
{
    size_t k;
    int rc = -1;
    for (k = 0; k < FIELD_FLAG_COUNT && rc == -1; k++) {
        if (o->defaults.value[k] != NULL) {
            const struct field_flag *f = &FIELD_FLAGS[o->defaults.which[k]];
            hero_status status = hero_batch_options_set_default(options, f->field, o->defaults.value[k]);
            /* Every field named here exists, so the library refused this
               one as a default: it says who receives the message. */
            rc = status == HERO_INVALID_ARGUMENT
                     ? fail(EXIT_INVALID, f->flag,
                            " cannot be a batch default: each row must name its own recipient")
                     : check_set(status, f->flag);
        }
    }
    if (rc == -1 && o->concurrency != NULL) {
        long long n = 0;
        if (!parse_int64(o->concurrency, &n) || n < 0 || n > 0xFFFFFFFFLL) {
            return fail(EXIT_INVALID, "--concurrency must be a whole number", NULL);
        }
        rc = check_set(hero_batch_options_set_concurrency(options, (uint32_t)n), "--concurrency");
    }
    for (k = 0; k < o->column_count && rc == -1; k++) {
        rc = batch_set_column(options, o->columns[k]);
    }
    if (rc == -1 && o->report != NULL) {
        rc = check_set(hero_batch_options_set_report(options, o->report), "--report");
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
 * every record was lost. The exit code is the library's (report.exit_code). */
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
            rc = report.exit_code;
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
        interrupts_call(stop_batch, stop, false);
        status = hero_batch_run(client, journal, o->batch, options, batch_on_row, &printer,
                                &summary, &err);
        batch_clear_progress(&printer);
        if (status != HERO_OK) {
            rc = batch_report(status, err);
        } else {
            const char *columns = hero_batch_summary_columns(summary);
            if (o->check && columns != NULL && columns[0] != '\0') {
                fprintf(stderr, "%s\n", columns);
            }
            fprintf(stderr, "hero_send: %s\n", hero_batch_summary_line(summary));
            rc = hero_batch_summary_exit_code(summary);
        }
        interrupts_default();
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
int batch_main(int argc, char **argv)
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


/*
 * hero_send, single mode: one message from the flags. The field flags are
 * the table in common.c, set through hero_message_set_field, so a flag
 * follows exactly the rules of the same column in a batch file. With the
 * lookup's flags (lookup.c) instead of --patient-id it finds the patient
 * first, in the same deadline; with --find-patient it only looks up.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static const char USAGE[] =
    "Usage: hero_send --patient-id ID --type hero|sms|email|nhs_app --message TEXT [options]\n"
    "       hero_send --nhs-number N --dob YYYY-MM-DD --type ... --message TEXT [options]\n"
    "       hero_send --find-patient --nhs-number N --dob YYYY-MM-DD\n"
    "       hero_send --find-patient --forename F --surname S --dob YYYY-MM-DD --postcode P\n"
    "\n"
    "Sends one message through Hero Health (POST /v1/messages/send).\n"
    "\n"
    "Finding the patient (POST /v1/patients/register_pds):\n"
    "  --find-patient               only look the patient up: prints {\"patient_id\":\"...\"}\n"
    "  --nhs-number N --dob D       by NHS number (spaces allowed) and date of birth\n"
    "  --forename F --surname S --dob D --postcode P   by demographics\n"
    "  --ehr-partner NAME, --ehr-partner-id ID         optional, either form\n"
    "  Without --find-patient and --patient-id, these look the patient up and then\n"
    "  send to the id found, in one deadline (--timeout). When Hero asks for identity\n"
    "  verification it prints {\"login_url\":\"...\",\"message\":\"...\"}, sends nothing\n"
    "  and exits 8.\n"
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
    "  --send-at DATETIME           send_at (RFC 3339, e.g. 2026-12-01T09:00:00Z, or UK\n"
    "                               local time: 2027-03-29 09:00 or 29/03/2027 09:00)\n"
    "  --timeout SECONDS            overall deadline, retries included (default 30)\n"
    "  --lenient                    skip the clinical and contact checks\n"
    "  --timings                    print where the time went as one line on stderr\n"
    "  --help                       show this help\n"
    "\n"
    "Environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID, and HERO_BASE_URL or\n"
    "HERO_ENVIRONMENT=production|staging (optional HERO_CA_FILE).\n"
    "\n"
    "On success prints Hero's reply as one JSON object. Exit codes:\n"
    "  0 sent; 2 invalid input or configuration (nothing sent); 3 refused by the\n"
    "  server; 4 rate limited; 5 could not connect (not sent); 6 MAY HAVE BEEN\n"
    "  SENT (check in Hero before resending); 7 accepted but the reply was\n"
    "  unreadable (do not resend); 8 the patient must verify their identity first\n"
    "  (nothing sent). A lookup alone: 0 found, 2 invalid input, 3 no patient found or\n"
    "  refused, 4 rate limited, 5 could not complete after its retries (nothing sent),\n"
    "  8 verify. 130 interrupted (Ctrl-C) before anything was sent (an interrupt\n"
    "  after the message's request left exits 6; a lookup interrupted is never 6).\n"
    "\n"
    "Batch mode: hero_send --batch FILE --journal FILE [options]; see hero_send --batch --help.\n";

/* Everything the command line asked for; NULL / false when not given. */
struct single_options {
    struct field_values fields;
    struct lookup_flags lookup;
    const char *timeout;
    uint32_t timeout_ms; /* parsed from timeout; 0 when not given */
    bool lenient;
    bool timings;
};

/* The names --type accepts, for its error line. */
static const char TYPE_NAMES[] = "hero, sms, email, nhs_app";

/* Whether any field flag other than --patient-id was given. */
static bool has_message_flags(const struct field_values *v)
{
    size_t k;
    for (k = 0; k < FIELD_FLAG_COUNT; k++) {
        if (v->value[k] != NULL && strcmp(FIELD_FLAGS[k].field, "patient_id") != 0) {
            return true;
        }
    }
    return false;
}

/* Parses argv into `o`. Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, struct single_options *o)
{
    int i, rc;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0) {
            fputs(USAGE, stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        }
        if (strcmp(arg, "--lenient") == 0) {
            if (o->lenient) {
                return fail(EXIT_INVALID, arg, " given twice (try --help)");
            }
            o->lenient = true;
            continue;
        }
        if (strcmp(arg, "--timings") == 0) {
            o->timings = true;
            continue;
        }
        if (strcmp(arg, "--timeout") == 0) {
            if (o->timeout != NULL) {
                return fail(EXIT_INVALID, arg, " given twice (try --help)");
            }
            if (i + 1 >= argc) {
                return fail(EXIT_INVALID, arg, " needs a value (try --help)");
            }
            o->timeout = argv[++i];
            continue;
        }
        rc = take_lookup_flag(argc, argv, &i, &o->lookup);
        if (rc == -2) {
            rc = take_field_flag(argc, argv, &i, &o->fields, "(try --help)");
        }
        if (rc == -2 && looks_like_flag(arg)) {
            fprintf(stderr, "hero_send: unknown option %s (try --help)\n", arg);
            return EXIT_INVALID;
        }
        if (rc == -2) {
            return fail(EXIT_INVALID, "unexpected argument (try --help)", NULL);
        }
        if (rc != -1) {
            return rc;
        }
    }
    if (o->timeout != NULL && !parse_seconds_ms(o->timeout, &o->timeout_ms)) {
        return fail(EXIT_INVALID, "--timeout must be a number of seconds", NULL);
    }
    rc = check_lookup_flags(&o->lookup, has_message_flags(&o->fields),
                            field_value(&o->fields, "patient_id") != NULL);
    if (rc != -1 || o->lookup.find_only) {
        return rc;
    }
    if (field_value(&o->fields, "patient_id") == NULL && !lookup_wanted(&o->lookup)) {
        return fail(EXIT_INVALID, "--patient-id is required (try --help)", NULL);
    }
    if (field_value(&o->fields, "message_type") == NULL) {
        return fail(EXIT_INVALID, "--type is required (try --help)", NULL);
    }
    if (field_value(&o->fields, "message_string") == NULL) {
        return fail(EXIT_INVALID, "--message is required (try --help)", NULL);
    }
    return -1;
}

/* Sets one field flag's value on the message: -1 on success. */
static int set_field(hero_message *m, const struct field_flag *f, const char *value)
{
    hero_error *err = NULL;
    hero_status status;
    int rc = -1;
    if (strcmp(f->flag, "--encrypted-text") == 0) {
        /* Always the string form, even for a text that reads "true". */
        return check_set(hero_message_set_encrypted_text(m, value), f->flag);
    }
    status = hero_message_set_field(m, f->field, value, &err);
    if (status != HERO_OK && hero_error_message(err) != NULL) {
        /* The library's line names the field and its rule, never the value. */
        fprintf(stderr, "hero_send: %s: %s (try --help)\n", f->flag, hero_error_message(err));
        rc = EXIT_INVALID;
    } else {
        rc = check_set(status, f->flag);
    }
    hero_error_free(err);
    return rc;
}

/* Builds the message from the options into *out. -1 on success. */
static int build_message(const struct single_options *o, hero_message **out)
{
    hero_message *m = NULL;
    hero_message_type type = 0;
    const char *patient_id;
    int rc;
    size_t k;

    if (hero_message_type_from_name(field_value(&o->fields, "message_type"), &type) != HERO_OK) {
        fprintf(stderr, "hero_send: --type must be one of: %s (try --help)\n", TYPE_NAMES);
        return EXIT_INVALID;
    }
    /* When the patient is looked up first, the id found replaces this empty one. */
    patient_id = field_value(&o->fields, "patient_id");
    rc = check_set(hero_message_new(patient_id != NULL ? patient_id : "", type,
                                    field_value(&o->fields, "message_string"), &m),
                   "--patient-id or --message");
    if (rc != -1) {
        return rc;
    }
    *out = m; /* freed by the caller whatever happens next */
    for (k = 0; k < FIELD_FLAG_COUNT && rc == -1; k++) {
        const struct field_flag *f = &FIELD_FLAGS[o->fields.which[k]];
        if (o->fields.value[k] == NULL || strcmp(f->field, "patient_id") == 0 ||
            strcmp(f->field, "message_type") == 0 || strcmp(f->field, "message_string") == 0) {
            continue;
        }
        rc = set_field(m, f, o->fields.value[k]);
    }
    return rc;
}

/* Makes the client from the environment and the options. -1 on success. */
static int build_client(const struct single_options *o, hero_client **out)
{
    hero_config *config = NULL;
    hero_error *err = NULL;
    hero_status status;
    int rc = -1;

    status = hero_config_new_from_env(&config, &err);
    if (status != HERO_OK) {
        rc = report(status, err);
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
        }
    }
    hero_config_free(config);
    hero_error_free(err);
    return rc;
}

static hero_cancel *single_cancel = NULL;

/* Ctrl-C: cancel the send; the library says whether it had gone. */
static void cancel_send(void *cancel)
{
    hero_cancel_trigger((const hero_cancel *)cancel);
}

/* One line of where the time went, in ms (the library's figures). */
static void print_timings(uint64_t (*at)(const void *, uint32_t), const void *h, uint32_t attempts,
                          int reused)
{
    fprintf(stderr,
            "hero_send: timings resolve=%.1f connect=%.1f tls=%.1f first_byte=%.1f total=%.1f "
            "attempts=%u reused=%s\n",
            at(h, HERO_TIMING_RESOLVE) / 1000.0, at(h, HERO_TIMING_CONNECT) / 1000.0,
            at(h, HERO_TIMING_TLS) / 1000.0, at(h, HERO_TIMING_FIRST_BYTE) / 1000.0,
            at(h, HERO_TIMING_TOTAL) / 1000.0, (unsigned)attempts, reused ? "yes" : "no");
}

static uint64_t response_at(const void *h, uint32_t which)
{
    return hero_response_timing_us((const hero_response *)h, which);
}

static uint64_t patient_at(const void *h, uint32_t which)
{
    return hero_patient_timing_us((const hero_patient *)h, which);
}

static uint64_t error_at(const void *h, uint32_t which)
{
    return hero_error_timing_us((const hero_error *)h, which);
}

/* Single mode: one message from the flags. */
int single_main(int argc, char **argv)
{
    struct single_options opts;
    hero_client *client = NULL;
    hero_message *message = NULL;
    hero_response *response = NULL;
    hero_patient_query *query = NULL;
    hero_patient *patient = NULL;
    hero_error *err = NULL;
    hero_status status;
    int rc;

    memset(&opts, 0, sizeof opts);
    rc = parse_args(argc, argv, &opts);
    if (rc != -1) {
        return rc;
    }
    rc = opts.lookup.find_only ? -1 : build_message(&opts, &message);
    if (rc == -1 && lookup_wanted(&opts.lookup)) {
        rc = build_query(&opts.lookup, &query);
    }
    if (rc == -1) {
        rc = build_client(&opts, &client);
    }
    if (rc == -1) {
        if (hero_cancel_new(&single_cancel) == HERO_OK) {
            interrupts_call(cancel_send, single_cancel, true);
        }
    }
    if (rc == -1 && opts.lookup.find_only) {
        status = hero_client_find_patient_cancellable(client, query, single_cancel, &patient, &err);
        if (opts.timings && status == HERO_OK) {
            print_timings(patient_at, patient, hero_patient_attempts(patient),
                          hero_patient_connection_reused(patient));
        } else if (opts.timings && err != NULL) {
            print_timings(error_at, err, hero_error_attempts(err), 0);
        }
        rc = status == HERO_OK ? print_patient(patient) : report(status, err);
    } else if (rc == -1) {
        status = query != NULL
                     ? hero_client_find_and_send_cancellable(client, query, message, single_cancel,
                                                             &patient, &response, &err)
                     : hero_client_send_cancellable(client, message, single_cancel, &response,
                                                    &err);
        if (opts.timings && response != NULL) {
            print_timings(response_at, response, hero_response_attempts(response),
                          hero_response_connection_reused(response));
        } else if (opts.timings && err != NULL) {
            print_timings(error_at, err, hero_error_attempts(err), 0);
        }
        if (status == HERO_OK && response == NULL) {
            /* Identity verification first: nothing was sent. */
            rc = print_patient(patient);
        } else if (status == HERO_OK) {
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
    hero_patient_free(patient);
    hero_patient_query_free(query);
    hero_client_free(client);
    /* The handler stays installed: it may still run, so the handle lives on
     * to the program's end (freed by the system). */
    return rc;
}


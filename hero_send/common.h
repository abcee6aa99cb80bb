/*
 * hero_send's shared parts: the one flag-to-field table both modes read,
 * the one-line error reports, and number parsing. Every rule on a value is
 * the library's (hero_message_set_field, hero_batch_options_set_default),
 * and so is every exit code (hero_exit_code, hero_batch_summary_exit_code).
 */
#ifndef HERO_SEND_COMMON_H
#define HERO_SEND_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "herohealth.h"

/* The exit codes this tool decides itself; every other comes from the library. */
enum { EXIT_SENT = 0, EXIT_INVALID = 2, EXIT_ACCEPTED_ID_UNKNOWN = 7 };

/* A field flag: the flag, the request field it names, and its fixed value
 * for flags that take none (NULL: the next argument). */
struct field_flag {
    const char *flag;
    const char *field;
    const char *fixed;
};

#define FIELD_FLAG_COUNT 21
extern const struct field_flag FIELD_FLAGS[FIELD_FLAG_COUNT];

/* The field flags given, one slot per field (the first flag naming it), so
 * two flags for one field clash. `which` is the flag that filled a slot. */
struct field_values {
    const char *value[FIELD_FLAG_COUNT];
    size_t which[FIELD_FLAG_COUNT];
};

/* Takes argv[*i] if it is a field flag: -1 taken (the value too), -2 not
 * a field flag, else an exit code. `help` ends error lines. */
int take_field_flag(int argc, char **argv, int *i, struct field_values *v, const char *help);
/* The value given for `field`, or NULL. */
const char *field_value(const struct field_values *v, const char *field);

int fail(int code, const char *what, const char *detail);
bool looks_like_flag(const char *arg);
bool parse_int64(const char *text, long long *out);
bool parse_number(const char *text, double *out);
bool parse_seconds_ms(const char *text, uint32_t *ms_out);
/* A setter's status when setting `flag`: -1 on success, else an exit code. */
int check_set(hero_status status, const char *flag);
/* Reports a failed library call on one line and returns its exit code. */
int report(hero_status status, const hero_error *err);
bool stderr_is_terminal(void);

/* Ctrl-C (on Windows also Ctrl-Break and, when `on_close`, the console
 * closing) calls trigger(arg), which must be async-signal-safe, as the
 * library's hero_cancel_trigger and hero_batch_stop_trigger are. A second
 * Ctrl-C ends the program at once, as usual. `arg` must outlive the
 * handler: it stays installed until interrupts_default(). */
void interrupts_call(void (*trigger)(void *), void *arg, bool on_close);
/* Ctrl-C ends the program again. */
void interrupts_default(void);

/* Finding the patient (lookup.c): the lookup's flags, NULL / false when
 * not given. find_only: --find-patient, look up and send nothing. */
struct lookup_flags {
    bool find_only;
    const char *nhs_number;
    const char *dob;
    const char *forename;
    const char *surname;
    const char *postcode;
    const char *ehr_partner;
    const char *ehr_partner_id;
};

/* Takes argv[*i] if it is a lookup flag: -1 taken (the value too), -2 not
 * a lookup flag, else an exit code. */
int take_lookup_flag(int argc, char **argv, int *i, struct lookup_flags *l);
/* Whether any lookup flag was given. */
bool lookup_wanted(const struct lookup_flags *l);
/* Which lookup flags go together, given whether any message flag and
 * --patient-id were: -1 to go on, else an exit code. */
int check_lookup_flags(const struct lookup_flags *l, bool message_flags, bool patient_id);
/* The lookup's query from its flags into *out: -1 on success. */
int build_query(const struct lookup_flags *l, hero_patient_query **out);
/* Prints a lookup's answer; its exit code is hero_patient_exit_code's. */
int print_patient(const hero_patient *patient);

/* The modes. */
bool is_batch_mode(int argc, char **argv);
int batch_main(int argc, char **argv);
int single_main(int argc, char **argv);

#endif

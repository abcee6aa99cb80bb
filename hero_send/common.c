/*
 * hero_send's shared parts (see common.h).
 */
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

/* Field flags of both modes: in single mode they set the message (through
 * hero_message_set_field), in batch mode the defaults for empty cells. */
const struct field_flag FIELD_FLAGS[FIELD_FLAG_COUNT] = {
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

/* One line on stderr. Callers never pass the key or the message text. */
int fail(int code, const char *what, const char *detail)
{
    fprintf(stderr, "hero_send: %s%s\n", what, detail != NULL ? detail : "");
    return code;
}

/* A flag name is echoed only if it looks like one, so that a stray message
 * text (which may hold patient data) is never printed. */
bool looks_like_flag(const char *arg)
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
bool parse_int64(const char *text, long long *out)
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
bool parse_seconds_ms(const char *text, uint32_t *ms_out)
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

/* A number (decimals allowed), or false; its range is the library's rule. */
bool parse_number(const char *text, double *out)
{
    char *end = NULL;
    if (text[0] == '\0' || text[0] == ' ' || (text[0] >= '\t' && text[0] <= '\r')) {
        return false;
    }
    errno = 0;
    *out = strtod(text, &end);
    return errno == 0 && *end == '\0';
}

/* A setter's status when setting `flag`: -1 on success, else an exit code.
 * Setters fail only on misuse; nothing has been sent yet. */
int check_set(hero_status status, const char *flag)
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

/* Reports a failed library call on one line and returns its exit code,
 * the library's (hero_exit_code). */
int report(hero_status status, const hero_error *err)
{
    const char *text = hero_error_message(err);
    const char *reason;
    if (text == NULL) {
        /* Only for misuse codes, which carry no hero_error. */
        fprintf(stderr, "hero_send: unexpected status %d%s\n", (int)status,
                status == HERO_MAY_HAVE_BEEN_SENT ? "; the message may have been sent" : "");
        return hero_exit_code((uint32_t)status, err);
    }
    /* The server's reason may quote patient data: it goes only to this
     * operator's terminal, never into the library's texts or logs. */
    reason = hero_error_server_message(err);
    fprintf(stderr, "hero_send: %s%s%s\n", text, reason != NULL ? "; server says: " : "",
            reason != NULL ? reason : "");
    return hero_exit_code((uint32_t)status, err);
}

int take_field_flag(int argc, char **argv, int *i, struct field_values *v, const char *help)
{
    const char *arg = argv[*i];
    size_t k, first;
    for (k = 0; k < FIELD_FLAG_COUNT; k++) {
        if (strcmp(arg, FIELD_FLAGS[k].flag) == 0) {
            break;
        }
    }
    if (k == FIELD_FLAG_COUNT) {
        return -2;
    }
    first = 0;
    while (strcmp(FIELD_FLAGS[first].field, FIELD_FLAGS[k].field) != 0) {
        first++;
    }
    if (v->value[first] != NULL) {
        fprintf(stderr, "hero_send: %s given twice, or with a flag for the same field %s\n", arg,
                help);
        return EXIT_INVALID;
    }
    if (FIELD_FLAGS[k].fixed != NULL) {
        v->value[first] = FIELD_FLAGS[k].fixed;
    } else if (*i + 1 >= argc) {
        fprintf(stderr, "hero_send: %s needs a value %s\n", arg, help);
        return EXIT_INVALID;
    } else {
        v->value[first] = argv[++*i];
    }
    v->which[first] = k;
    return -1;
}

const char *field_value(const struct field_values *v, const char *field)
{
    size_t k;
    for (k = 0; k < FIELD_FLAG_COUNT; k++) {
        if (v->value[k] != NULL && strcmp(FIELD_FLAGS[k].field, field) == 0) {
            return v->value[k];
        }
    }
    return NULL;
}

bool stderr_is_terminal(void)
{
#ifdef _WIN32
    return _isatty(2) != 0;
#else
    return isatty(2) != 0;
#endif
}

/* Read by the handlers: set before a handler is installed. */
static void (*interrupt_trigger)(void *) = NULL;
static void *interrupt_arg = NULL;

#ifndef _WIN32
static void on_interrupt(int sig)
{
    interrupt_trigger(interrupt_arg);
    signal(sig, SIG_DFL);
}
#else
static volatile LONG interrupt_on_close = 0;

/* On close Windows ends the process once this returns, so give the
 * program a moment to report how its send ended first (a cancelled send
 * returns within milliseconds). */
static BOOL WINAPI on_console_ctrl(DWORD type)
{
    static volatile LONG pressed = 0;
    if (type == CTRL_CLOSE_EVENT && interrupt_on_close) {
        interrupt_trigger(interrupt_arg);
        Sleep(2000);
        return TRUE;
    }
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT) {
        return FALSE;
    }
    interrupt_trigger(interrupt_arg);
    /* The first press is handled; a second one falls through to the default. */
    return InterlockedExchange(&pressed, 1) == 0 ? TRUE : FALSE;
}
#endif

void interrupts_call(void (*trigger)(void *), void *arg, bool on_close)
{
    interrupt_trigger = trigger;
    interrupt_arg = arg;
#ifdef _WIN32
    interrupt_on_close = on_close ? 1 : 0;
    SetConsoleCtrlHandler(on_console_ctrl, TRUE);
#else
    (void)on_close;
    signal(SIGINT, on_interrupt);
#endif
}

void interrupts_default(void)
{
#ifdef _WIN32
    SetConsoleCtrlHandler(on_console_ctrl, FALSE);
#else
    signal(SIGINT, SIG_DFL);
#endif
}

/*
 * hero_send: send one message through Hero Health from the command line,
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
 *   3  refused by the server (3xx but 303, or 4xx other than 429)
 *   4  rate limited (429, after the automatic retries)
 *   5  could not connect: not sent
 *   6  MAY HAVE BEEN SENT: check in Hero before resending
 *   7  accepted, but the reply was unreadable: do not resend
 *   8  the patient must verify their identity with Hero first: nothing sent
 * Every rule on the values, and every exit code, is the library's; the
 * tool parses flags (single.c, lookup.c, batch.c, common.c) and prints.
 *
 * Finding the patient: --find-patient with --nhs-number and --dob (or
 * --forename, --surname, --dob, --postcode) prints Hero's patient id; the
 * same flags without --patient-id look the patient up and then send, in one
 * deadline.
 *
 * Batch mode (see BATCH_USAGE): one message per row of a CSV or JSON Lines
 * file, through a send journal, so a rerun sends only what has not gone.
 */
#include "common.h"

#include <stdlib.h>
#ifdef _WIN32
#include <windows.h>
#endif

/* The program, given UTF-8 arguments: batch mode or a single send. */
static int run(int argc, char **argv)
{
    return is_batch_mode(argc, argv) ? batch_main(argc, argv) : single_main(argc, argv);
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

/* herohealth through its C API: one shared client (keep-alive pool); each
 * send builds the message, sends it, reads message_id and frees both. */
#include "bench_common.h"
#include "herohealth.h"

static hero_client *CLIENT;
static struct args A;

static void fail(const char *what, hero_status st, hero_error *err) {
    fprintf(stderr, "send_hero: %s failed: status %d: %s\n", what, (int)st,
            err ? hero_error_message(err) : "(no detail)");
    exit(1);
}

static void *worker(void *p) {
    intptr_t id = (intptr_t)p;
    long n = A.sends / A.threads + (id < A.sends % A.threads ? 1 : 0);
    for (long i = 0; i < n; i++) {
        hero_message *m = NULL;
        hero_response *r = NULL;
        hero_error *e = NULL;
        hero_status st = hero_message_new(MSG_PATIENT_ID, HERO_MESSAGE_TYPE_SMS, MSG_TEXT, &m);
        if (st != HERO_OK) fail("hero_message_new", st, NULL);
        if ((st = hero_message_set_recipient_contact_detail(m, MSG_RECIPIENT)) != HERO_OK ||
            (st = hero_message_set_write_to_record(m, true)) != HERO_OK ||
            (st = hero_message_set_snomed_code(m, MSG_SNOMED)) != HERO_OK)
            fail("hero_message_set_*", st, NULL);
        st = hero_client_send(CLIENT, m, &r, &e);
        if (st != HERO_OK) fail("hero_client_send", st, e);
        const char *mid = hero_response_message_id(r);
        if (!mid || !*mid) fail("hero_response_message_id", st, NULL);
        hero_response_free(r);
        hero_message_free(m);
        if (id == 0 && A.rss_at && i + 1 == A.rss_at)
            printf("rss_kib_at_%ld=%ld ", A.rss_at * A.threads, proc_kib("VmRSS"));
    }
    return NULL;
}

int main(int argc, char **argv) {
    A = parse_args(argc, argv);
    hero_config *cfg = NULL;
    hero_error *err = NULL;
    hero_status st = hero_config_new(HERO_TARGET_CUSTOM, A.url, API_KEY, PRACTICE_GROUP, &cfg);
    if (st != HERO_OK) fail("hero_config_new", st, NULL);
    if (A.ca && (st = hero_config_set_ca_file(cfg, A.ca)) != HERO_OK)
        fail("hero_config_set_ca_file", st, NULL);
    st = hero_client_new(cfg, &CLIENT, &err);
    if (st != HERO_OK) fail("hero_client_new", st, err);
    hero_config_free(cfg);

    intptr_t ids[64];
    for (int i = 0; i < A.threads; i++) ids[i] = i;
    double secs = run_threads(A.threads, worker, ids);

    printf("client=hero-c sends=%ld threads=%d secs=%.6f conns=%llu rss_kib_end=%ld maxrss_kib=%ld version=%s\n",
           A.sends, A.threads, secs, (unsigned long long)hero_client_connections_opened(CLIENT),
           proc_kib("VmRSS"), proc_kib("VmHWM"), hero_version());
    hero_client_free(CLIENT);
    return 0;
}

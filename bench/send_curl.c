/* The peer: libcurl + cJSON as a competent integrator writes it. One easy
 * handle per thread, reused for every send (keep-alive), options set once;
 * each send builds the JSON body with cJSON, POSTs it with the two Hero
 * headers and content-type, checks the status, parses the reply with cJSON
 * and copies message_id out. */
#include "bench_common.h"
#include <cjson/cJSON.h>
#include <curl/curl.h>

static struct args A;
static unsigned long long CONNS[64];
static volatile char SINK; /* keeps the copied message_id observable */

struct buf {
    char *p;
    size_t len, cap;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *user) {
    struct buf *b = user;
    size_t n = size * nmemb;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
    return n;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "send_curl: %s: %s\n", what, detail);
    exit(1);
}

static void *worker(void *p) {
    intptr_t id = (intptr_t)p;
    long n = A.sends / A.threads + (id < A.sends % A.threads ? 1 : 0);
    struct buf reply = {0};
    CURL *h = curl_easy_init();
    if (!h) die("curl_easy_init", "NULL");
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "x-api-key: " API_KEY);
    hdr = curl_slist_append(hdr, "x-practice-group-id: " PRACTICE_GROUP);
    hdr = curl_slist_append(hdr, "content-type: application/json");
    char url[512];
    snprintf(url, sizeof url, "%s/v1/messages/send", A.url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "bench-peer/1.0");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    if (A.ca) curl_easy_setopt(h, CURLOPT_CAINFO, A.ca);

    for (long i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "patient_id", MSG_PATIENT_ID);
        cJSON_AddStringToObject(o, "message_type", "sms");
        cJSON_AddStringToObject(o, "message_string", MSG_TEXT);
        cJSON_AddStringToObject(o, "recipient_contact_detail", MSG_RECIPIENT);
        cJSON_AddBoolToObject(o, "write_to_record", 1);
        cJSON_AddStringToObject(o, "snomed_code", MSG_SNOMED);
        char *body = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!body) die("cJSON_PrintUnformatted", "NULL");

        reply.len = 0;
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        CURLcode rc = curl_easy_perform(h);
        if (rc != CURLE_OK) die("curl_easy_perform", curl_easy_strerror(rc));
        long status = 0, conns = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
        CONNS[id] += (unsigned long long)conns;
        cJSON_free(body);
        if (status < 200 || status > 299) die("HTTP status", "not 2xx");

        cJSON *r = cJSON_ParseWithLength(reply.p, reply.len);
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(r, "message_id");
        if (!cJSON_IsString(mid) || !mid->valuestring[0]) die("reply", "no message_id");
        char *kept = strdup(mid->valuestring);
        cJSON_Delete(r);
        SINK ^= kept[0];
        free(kept);
        if (id == 0 && A.rss_at && i + 1 == A.rss_at)
            printf("rss_kib_at_%ld=%ld ", A.rss_at * A.threads, proc_kib("VmRSS"));
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    free(reply.p);
    return NULL;
}

int main(int argc, char **argv) {
    A = parse_args(argc, argv);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    intptr_t ids[64];
    for (int i = 0; i < A.threads; i++) ids[i] = i;
    double secs = run_threads(A.threads, worker, ids);
    unsigned long long conns = 0;
    for (int i = 0; i < A.threads; i++) conns += CONNS[i];
    printf("client=curl-peer sends=%ld threads=%d secs=%.6f conns=%llu rss_kib_end=%ld maxrss_kib=%ld version=%s ssl=%s cjson=%s\n",
           A.sends, A.threads, secs, conns, proc_kib("VmRSS"), proc_kib("VmHWM"),
           curl_version_info(CURLVERSION_NOW)->version,
           curl_version_info(CURLVERSION_NOW)->ssl_version, cJSON_Version());
    curl_global_cleanup();
    return 0;
}

/* Shared by the bench senders: the message, timing, memory, threads. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The realistic message every sender sends (same bytes on the wire). */
#define MSG_PATIENT_ID "4242001"
#define MSG_TEXT                                                               \
    "Dear patient, your blood test results are back and are normal. No "       \
    "further action is needed. If you have any questions, call Riverside "         \
    "Surgery on 0161 496 0000."
#define MSG_RECIPIENT "07700 900123"
#define MSG_SNOMED "185317003"
#define API_KEY "bench-api-key-0123456789"
#define PRACTICE_GROUP "bench-practice-group"

static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* "VmRSS" (current) or "VmHWM" (peak) from /proc/self/status, in KiB. */
static inline long proc_kib(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

struct args {
    const char *url;
    long sends;        /* total, split over the threads */
    int threads;
    const char *ca;    /* NULL: none */
    long rss_at;       /* report VmRSS after this many sends (thread 0); 0: no */
};

static inline void usage(const char *prog) {
    fprintf(stderr, "usage: %s BASE_URL SENDS THREADS [CA_FILE|-] [RSS_AT]\n", prog);
    exit(2);
}

static inline struct args parse_args(int argc, char **argv) {
    struct args a = {0};
    if (argc < 4) usage(argv[0]);
    a.url = argv[1];
    a.sends = atol(argv[2]);
    a.threads = atoi(argv[3]);
    if (argc > 4 && strcmp(argv[4], "-") != 0) a.ca = argv[4];
    if (argc > 5) a.rss_at = atol(argv[5]);
    if (a.sends <= 0 || a.threads <= 0 || a.threads > 64) usage(argv[0]);
    return a;
}

/* Runs worker(i) on `threads` threads released together; returns seconds. */
struct pool {
    pthread_barrier_t go;
    void *(*worker)(void *);
};
static struct pool POOL;
static void *pool_trampoline(void *p) {
    pthread_barrier_wait(&POOL.go);
    return POOL.worker(p);
}
static inline double run_threads(int threads, void *(*worker)(void *), intptr_t *ids) {
    pthread_t t[64];
    POOL.worker = worker;
    pthread_barrier_init(&POOL.go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, pool_trampoline, (void *)ids[i]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    double t0 = now_s();
    pthread_barrier_wait(&POOL.go);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return now_s() - t0;
}

#endif

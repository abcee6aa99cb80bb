/*
 * Test program: hero_cancel from another thread and from a signal handler,
 * and the timings of a reply and of an error, printed for tests/cancel_cli.rs.
 *
 *   cancel_timing thread|signal URL   send to a server that never answers,
 *                                     trigger after 300 ms, print the result
 *   cancel_timing timings URL BADURL  two sends to URL (a reused connection)
 *                                     and one to BADURL (refused), print timings
 *
 * Environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID.
 */
#define _POSIX_C_SOURCE 200809L
#include <herohealth.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#endif

static hero_cancel *cancel_handle = NULL;
static volatile sig_atomic_t fired = 0;

static double now_ms(void)
{
#ifdef _WIN32
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
#endif
}

static double triggered_at = 0;

#ifdef _WIN32
static DWORD WINAPI trigger_later(LPVOID arg)
{
    (void)arg;
    Sleep(300);
    triggered_at = now_ms();
    hero_cancel_trigger(cancel_handle);
    return 0;
}
#else
static void *trigger_later(void *arg)
{
    (void)arg;
    struct timespec d = {0, 300 * 1000 * 1000};
    nanosleep(&d, NULL);
    triggered_at = now_ms();
    hero_cancel_trigger(cancel_handle);
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    hero_cancel_trigger(cancel_handle);
    fired = 1;
}
#endif

static hero_client *client_for(const char *url)
{
    hero_config *config = NULL;
    hero_client *client = NULL;
    if (hero_config_new(HERO_TARGET_CUSTOM, url, getenv("HERO_API_KEY"), getenv("HERO_PRACTICE_GROUP_ID"), &config) != HERO_OK) {
        return NULL;
    }
    hero_client_new(config, &client, NULL);
    hero_config_free(config);
    return client;
}

static hero_message *message(void)
{
    hero_message *m = NULL;
    hero_message_new("4242", HERO_MESSAGE_TYPE_HERO, "Your results are ready.", &m);
    return m;
}

static void print_error_timings(const char *label, const hero_error *e)
{
    printf("%s status=%d kind=%d attempts=%u resolve=%llu connect=%llu tls=%llu first_byte=%llu total=%llu unknown=%llu\n",
           label, (int)hero_error_status(e), (int)hero_error_kind(e), (unsigned)hero_error_attempts(e),
           (unsigned long long)hero_error_timing_us(e, HERO_TIMING_RESOLVE),
           (unsigned long long)hero_error_timing_us(e, HERO_TIMING_CONNECT),
           (unsigned long long)hero_error_timing_us(e, HERO_TIMING_TLS),
           (unsigned long long)hero_error_timing_us(e, HERO_TIMING_FIRST_BYTE),
           (unsigned long long)hero_error_timing_us(e, HERO_TIMING_TOTAL),
           (unsigned long long)hero_error_timing_us(e, 99));
}

static int cancel_mode(const char *mode, const char *url)
{
    hero_client *client = client_for(url);
    hero_message *m = message();
    hero_response *r = NULL;
    hero_error *e = NULL;
    hero_status status;
    double returned;
    if (client == NULL || m == NULL || hero_cancel_new(&cancel_handle) != HERO_OK) {
        return 1;
    }
    if (strcmp(mode, "thread") == 0) {
#ifdef _WIN32
        HANDLE t = CreateThread(NULL, 0, trigger_later, NULL, 0, NULL);
        status = hero_client_send_cancellable(client, m, cancel_handle, &r, &e);
        returned = now_ms();
        WaitForSingleObject(t, INFINITE);
        CloseHandle(t);
#else
        pthread_t t;
        pthread_create(&t, NULL, trigger_later, NULL);
        status = hero_client_send_cancellable(client, m, cancel_handle, &r, &e);
        returned = now_ms();
        pthread_join(t, NULL);
#endif
    } else {
#ifdef _WIN32
        return 1;
#else
        struct itimerval it;
        memset(&it, 0, sizeof it);
        it.it_value.tv_usec = 300 * 1000;
        signal(SIGALRM, on_alarm);
        setitimer(ITIMER_REAL, &it, NULL);
        triggered_at = now_ms() + 300;
        status = hero_client_send_cancellable(client, m, cancel_handle, &r, &e);
        returned = now_ms();
        if (!fired) {
            return 1;
        }
#endif
    }
    printf("status=%d kind=%d after_ms=%.1f\n", (int)status, (int)hero_error_kind(e), returned - triggered_at);
    print_error_timings("error", e);
    /* Triggered stays triggered: a second send sends nothing. */
    hero_error_free(e);
    e = NULL;
    status = hero_client_send_cancellable(client, m, cancel_handle, &r, &e);
    printf("again status=%d kind=%d\n", (int)status, (int)hero_error_kind(e));
    hero_error_free(e);
    hero_response_free(r);
    hero_message_free(m);
    hero_client_free(client);
    hero_cancel_free(cancel_handle);
    return 0;
}

static int timings_mode(const char *url, const char *bad)
{
    hero_client *client = client_for(url);
    hero_client *refused = client_for(bad);
    hero_message *m = message();
    hero_error *e = NULL;
    int i;
    if (client == NULL || refused == NULL || m == NULL) {
        return 1;
    }
    for (i = 0; i < 2; i++) {
        hero_response *r = NULL;
        if (hero_client_send(client, m, &r, NULL) != HERO_OK) {
            return 1;
        }
        printf("reply%d reused=%d attempts=%u resolve=%llu connect=%llu tls=%llu first_byte=%llu total=%llu unknown=%llu\n",
               i, hero_response_connection_reused(r), (unsigned)hero_response_attempts(r),
               (unsigned long long)hero_response_timing_us(r, HERO_TIMING_RESOLVE),
               (unsigned long long)hero_response_timing_us(r, HERO_TIMING_CONNECT),
               (unsigned long long)hero_response_timing_us(r, HERO_TIMING_TLS),
               (unsigned long long)hero_response_timing_us(r, HERO_TIMING_FIRST_BYTE),
               (unsigned long long)hero_response_timing_us(r, HERO_TIMING_TOTAL),
               (unsigned long long)hero_response_timing_us(r, 99));
        hero_response_free(r);
    }
    {
        hero_response *none = NULL;
        hero_client_send(refused, m, &none, &e);
        hero_response_free(none);
    }
    print_error_timings("refused", e);
    hero_error_free(e);
    hero_message_free(m);
    hero_client_free(client);
    hero_client_free(refused);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && (strcmp(argv[1], "thread") == 0 || strcmp(argv[1], "signal") == 0)) {
        return cancel_mode(argv[1], argv[2]);
    }
    if (argc == 4 && strcmp(argv[1], "timings") == 0) {
        return timings_mode(argv[2], argv[3]);
    }
    fputs("usage: cancel_timing thread|signal URL | timings URL BADURL\n", stderr);
    return 2;
}

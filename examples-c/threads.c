/*
 * threads.c: one hero_client shared by several threads sending at once.
 *
 * A hero_client is thread-safe and keeps a pool of keep-alive connections,
 * so share one client between all threads rather than making one per send.
 * Each thread here builds its own hero_message and checks every outcome.
 *
 *   threads [SENDS_PER_THREAD]     (default 25; 4 threads)
 *
 * Settings come from the environment, as in send_message.c. Exits 0 only
 * if every message was accepted.
 */
#define _POSIX_C_SOURCE 200112L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "herohealth.h"

#define THREADS 4

struct worker {
    const hero_client *client; /* shared, read-only */
    int index;
    int sends;
    int accepted;
    int failed;
};

static void *send_loop(void *arg)
{
    struct worker *w = arg;
    hero_message *message = NULL;
    int i;

    if (hero_message_new("4242", HERO_MESSAGE_TYPE_SMS, "Your test results are ready.",
                         &message) != HERO_OK ||
        hero_message_set_recipient_contact_detail(message, "07700 900123") != HERO_OK) {
        fprintf(stderr, "thread %d: could not build the message\n", w->index);
        w->failed = w->sends;
        hero_message_free(message);
        return NULL;
    }
    for (i = 0; i < w->sends; i++) {
        hero_response *response = NULL;
        hero_error *error = NULL;
        hero_status status = hero_client_send(w->client, message, &response, &error);
        if (status == HERO_OK) {
            w->accepted++;
        } else {
            /* A real program would record whether the message may have
             * gone (HERO_MAY_HAVE_BEEN_SENT, HERO_ACCEPTED_ID_UNKNOWN) and
             * never resend those blindly. */
            fprintf(stderr, "thread %d, send %d: status %d: %s\n", w->index, i, (int)status,
                    error != NULL ? hero_error_message(error) : "(no details)");
            w->failed++;
        }
        hero_response_free(response);
        hero_error_free(error);
    }
    hero_message_free(message);
    return NULL;
}

int main(int argc, char **argv)
{
    hero_config *config = NULL;
    hero_client *client = NULL;
    hero_error *error = NULL;
    hero_status status;
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    int sends = 25, started = 0, accepted = 0, failed = 0, i;

    if (argc > 1) {
        char *end = NULL;
        long n = strtol(argv[1], &end, 10);
        if (argc > 2 || *end != '\0' || n < 1 || n > 100000) {
            fprintf(stderr, "usage: threads [SENDS_PER_THREAD]\n");
            return 2;
        }
        sends = (int)n;
    }

    status = hero_config_new_from_env(&config, &error);
    if (status == HERO_OK) {
        status = hero_client_new(config, &client, &error);
    }
    hero_config_free(config);
    if (status != HERO_OK) {
        fprintf(stderr, "%s\n", error != NULL ? hero_error_message(error) : "no client");
        hero_error_free(error);
        return 1;
    }

    for (i = 0; i < THREADS; i++) {
        workers[i].client = client;
        workers[i].index = i;
        workers[i].sends = sends;
        workers[i].accepted = 0;
        workers[i].failed = 0;
        if (pthread_create(&threads[i], NULL, send_loop, &workers[i]) != 0) {
            fprintf(stderr, "could not start thread %d\n", i);
            failed++;
            break;
        }
        started++;
    }
    /* Every thread must be done before the client is freed. */
    for (i = 0; i < started; i++) {
        if (pthread_join(threads[i], NULL) != 0) {
            fprintf(stderr, "could not join thread %d\n", i);
            failed++;
        }
        accepted += workers[i].accepted;
        failed += workers[i].failed;
    }

    /* With keep-alive, about one connection per thread, not one per send. */
    printf("sends: %d (%d accepted, %d failed)\n", accepted + failed, accepted, failed);
    printf("connections_opened: %llu\n",
           (unsigned long long)hero_client_connections_opened(client));
    hero_client_free(client);
    return failed == 0 && accepted == THREADS * sends ? 0 : 1;
}

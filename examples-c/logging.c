/*
 * logging.c: route libherohealth's log lines into your own log.
 *
 * The callback receives attempts, retries, statuses and timings; lines
 * never hold the API key, the message text, the patient id or contact
 * details, so they may go wherever your other logs go. The callback runs on
 * the sending thread, possibly on several at once: make it thread-safe.
 *
 *   logging MESSAGE RECIPIENT PATIENT_ID...
 *
 * Sends MESSAGE by sms to RECIPIENT once per PATIENT_ID (settings from the
 * environment, as in send_message.c), then prints every log line as
 * "LOG <level> <line>" and every outcome as "STATUS <n> <status>", where n
 * counts the sends. tests/c_programs.rs runs it against the local mock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herohealth.h"

/* Lines are collected here and printed at the end. */
struct log_buffer {
    pthread_mutex_t lock;
    char *text;
    size_t len;
};

static void collect(void *user_data, uint32_t level, const char *line)
{
    struct log_buffer *log = user_data;
    size_t need = strlen(line) + 32;
    pthread_mutex_lock(&log->lock);
    char *grown = realloc(log->text, log->len + need);
    if (grown != NULL) {
        log->text = grown;
        log->len += (size_t)snprintf(log->text + log->len, need, "LOG %u %s\n", (unsigned)level, line);
    }
    pthread_mutex_unlock(&log->lock);
}

int main(int argc, char **argv)
{
    struct log_buffer log = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};
    hero_config *config = NULL;
    hero_client *client = NULL;
    hero_error *error = NULL;
    int i;

    if (argc < 4) {
        fprintf(stderr, "usage: logging MESSAGE RECIPIENT PATIENT_ID...\n");
        return 2;
    }
    if (hero_config_new_from_env(&config, &error) != HERO_OK ||
        hero_config_set_log_callback(config, collect, &log) != HERO_OK ||
        hero_config_set_max_retry_wait_ms(config, 2000) != HERO_OK ||
        hero_client_new(config, &client, &error) != HERO_OK) {
        fprintf(stderr, "setup failed: %s\n", error ? hero_error_message(error) : "bad argument");
        hero_error_free(error);
        hero_config_free(config);
        return 1;
    }
    hero_config_free(config); /* the client keeps the callback */

    for (i = 3; i < argc; i++) {
        hero_message *msg = NULL;
        hero_response *resp = NULL;
        hero_status st = hero_message_new(argv[i], HERO_MESSAGE_TYPE_SMS, argv[1], &msg);
        if (st == HERO_OK) {
            st = hero_message_set_recipient_contact_detail(msg, argv[2]);
        }
        if (st == HERO_OK) {
            st = hero_client_send(client, msg, &resp, &error);
        }
        printf("STATUS %d %d\n", i - 2, (int)st);
        hero_response_free(resp);
        hero_error_free(error);
        error = NULL;
        hero_message_free(msg);
    }
    hero_client_free(client);

    if (log.text != NULL) {
        fputs(log.text, stdout);
    }
    free(log.text);
    return 0;
}

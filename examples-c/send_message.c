/*
 * send_message.c: the shortest complete program that sends one SMS through
 * Hero Health with libherohealth.
 *
 * Settings come from the environment: HERO_API_KEY, HERO_PRACTICE_GROUP_ID
 * and HERO_BASE_URL (e.g. the local mock) or HERO_ENVIRONMENT=staging.
 *
 *   cc -std=c99 -I../include send_message.c ../target/release/libherohealth.a \
 *      -lpthread -ldl -lm -o send_message
 */
#include <stdio.h>

#include "herohealth.h"

int main(void)
{
    hero_config *config = NULL;
    hero_client *client = NULL;
    hero_message *message = NULL;
    hero_response *response = NULL;
    hero_error *error = NULL;
    hero_status status;
    int exit_code = 1;

    /* Settings from the environment; a missing variable is named in `error`. */
    status = hero_config_new_from_env(&config, &error);
    if (status != HERO_OK) {
        goto fail;
    }
    /* The client checks the settings; share one client for every send. */
    status = hero_client_new(config, &client, &error);
    hero_config_free(config); /* the client keeps its own copy */
    if (status != HERO_OK) {
        goto fail;
    }

    status = hero_message_new("4242", HERO_MESSAGE_TYPE_SMS,
                              "Your flu jab is due. Please book online.", &message);
    if (status == HERO_OK) {
        status = hero_message_set_recipient_contact_detail(message, "07700 900123");
    }
    if (status != HERO_OK) {
        fprintf(stderr, "could not build the message (status %d)\n", (int)status);
        goto done;
    }

    /* Blocks until Hero answers, within the deadline (30 s by default). */
    status = hero_client_send(client, message, &response, &error);
    if (status == HERO_OK) {
        printf("sent: Hero message id %s\n", hero_response_message_id(response));
        exit_code = 0;
        goto done;
    }

fail:
    /* The message says what happened, and whether the message may have gone. */
    fprintf(stderr, "%s\n", error != NULL ? hero_error_message(error) : "failed");
    switch (status) {
    case HERO_NOT_SENT:
    case HERO_REFUSED:
        fprintf(stderr, "not sent: safe to send again once fixed\n");
        break;
    case HERO_MAY_HAVE_BEEN_SENT:
        fprintf(stderr, "may have been sent: check in Hero before resending\n");
        break;
    case HERO_ACCEPTED_ID_UNKNOWN:
        fprintf(stderr, "accepted by Hero: do not resend\n");
        break;
    default:
        fprintf(stderr, "misuse of the API (status %d)\n", (int)status);
        break;
    }

done:
    hero_response_free(response);
    hero_error_free(error);
    hero_message_free(message);
    hero_client_free(client);
    return exit_code;
}

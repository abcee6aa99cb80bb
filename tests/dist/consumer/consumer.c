/*
 * consumer.c: the smallest program an integrator would write against a
 * release archive. Sends one message (settings from the environment, as in
 * examples-c/send_message.c) with text beyond ASCII, prints the message
 * id, and exits 0 only if Hero accepted it.
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
    int rc = 1;

    if (hero_config_new_from_env(&config, &error) == HERO_OK &&
        hero_client_new(config, &client, &error) == HERO_OK &&
        hero_message_new("4242", HERO_MESSAGE_TYPE_HERO, "Archive check: \xc2\xa3" "5, \xc5\xb5",
                         &message) == HERO_OK) {
        hero_status status = hero_client_send(client, message, &response, &error);
        if (status == HERO_OK) {
            printf("sent %s (library %s)\n", hero_response_message_id(response), hero_version());
            rc = 0;
        }
    }
    if (rc != 0) {
        fprintf(stderr, "consumer: %s\n", error != NULL ? hero_error_message(error) : "setup failed");
    }
    hero_response_free(response);
    hero_error_free(error);
    hero_message_free(message);
    hero_client_free(client);
    hero_config_free(config);
    return rc;
}

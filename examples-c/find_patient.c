/*
 * find_patient.c: find a patient's Hero id from their NHS number and date
 * of birth (or forename, surname, date of birth and postcode), then send
 * them a message, from C.
 *
 *   find_patient NHS_NUMBER DOB [MESSAGE]
 *   find_patient FORENAME SURNAME DOB POSTCODE
 *
 * Settings come from the environment, as in send_message.c. Prints Hero's
 * answer as JSON; exits 0 when found, 8 when the patient must verify their
 * identity first, 1 on any failure (the line on stderr says which).
 */
#include <stdio.h>
#include <string.h>

#include "herohealth.h"

static int fail(const char *what, hero_status status, const hero_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err ? hero_error_message(err) : hero_status_text((int)status));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4 && argc != 5) {
        fprintf(stderr, "usage: find_patient NHS_NUMBER DOB [MESSAGE] | FORENAME SURNAME DOB POSTCODE\n");
        return 2;
    }
    hero_config *config = NULL;
    hero_client *client = NULL;
    hero_patient_query *query = NULL;
    hero_patient *patient = NULL;
    hero_error *err = NULL;
    int rc = 1;

    hero_status status = hero_config_new_from_env(&config, &err);
    if (status == HERO_OK) status = hero_client_new(config, &client, &err);
    hero_config_free(config);
    if (status != HERO_OK) {
        rc = fail("settings", status, err);
        goto done;
    }

    status = argc == 5 ? hero_patient_query_new_demographics(argv[1], argv[2], argv[3], argv[4], &query)
                       : hero_patient_query_new_nhs_number(argv[1], argv[2], &query);
    if (status == HERO_OK) status = hero_patient_query_set_ehr_partner(query, "example-ehr");
    if (status != HERO_OK) {
        rc = fail("query", status, NULL);
        goto done;
    }

    /* Blocks within the deadline; a lookup is retried on its own when that
     * is safe, and never "may have been sent". */
    status = hero_client_find_patient(client, query, &patient, &err);
    if (status != HERO_OK) {
        rc = fail("lookup", status, err);
        if (err && hero_error_field(err)) fprintf(stderr, "field: %s\n", hero_error_field(err));
        goto done;
    }
    printf("%s\n", hero_patient_json(patient));
    if (hero_patient_kind(patient) == HERO_PATIENT_VERIFICATION_REQUIRED) {
        /* Show hero_patient_login_url(patient) to the patient only. */
        fprintf(stderr, "%s\n", hero_patient_message(patient));
        rc = 8;
        goto done;
    }
    rc = 0;

    if (argc == 4) {
        /* The id found is what every send needs. */
        hero_message *message = NULL;
        hero_response *reply = NULL;
        status = hero_message_new(hero_patient_id(patient), HERO_MESSAGE_TYPE_HERO, argv[3], &message);
        if (status == HERO_OK) status = hero_client_send(client, message, &reply, &err);
        if (status == HERO_OK)
            printf("sent: %s\n", hero_response_message_id(reply));
        else
            rc = fail("send", status, err);
        hero_response_free(reply);
        hero_message_free(message);
    }

done:
    hero_error_free(err);
    hero_patient_free(patient);
    hero_patient_query_free(query);
    hero_client_free(client);
    return rc;
}

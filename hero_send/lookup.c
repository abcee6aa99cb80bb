/*
 * hero_send, finding the patient (POST /v1/patients/register_pds): the
 * lookup's flags, its query and its answer, for --find-patient alone and
 * for a lookup then a send. Every rule on a value is the library's
 * (hero_patient_query_new_*), and so is every exit code
 * (hero_patient_exit_code, hero_exit_code).
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

/* Each lookup flag and where its value goes; NULL for any other flag. */
static const char **lookup_slot(struct lookup_flags *l, const char *arg)
{
    static const char *const flags[] = {"--nhs-number", "--dob",         "--forename",
                                        "--surname",    "--postcode",    "--ehr-partner",
                                        "--ehr-partner-id"};
    const char **slots[] = {&l->nhs_number, &l->dob,         &l->forename,      &l->surname,
                            &l->postcode,   &l->ehr_partner, &l->ehr_partner_id};
    size_t k;
    for (k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        if (strcmp(arg, flags[k]) == 0) {
            return slots[k];
        }
    }
    return NULL;
}

int take_lookup_flag(int argc, char **argv, int *i, struct lookup_flags *l)
{
    const char *arg = argv[*i];
    const char **slot;
    if (strcmp(arg, "--find-patient") == 0) {
        if (l->find_only) {
            return fail(EXIT_INVALID, arg, " given twice (try --help)");
        }
        l->find_only = true;
        return -1;
    }
    slot = lookup_slot(l, arg);
    if (slot == NULL) {
        return -2;
    }
    if (*slot != NULL) {
        return fail(EXIT_INVALID, arg, " given twice (try --help)");
    }
    if (*i + 1 >= argc) {
        return fail(EXIT_INVALID, arg, " needs a value (try --help)");
    }
    *slot = argv[++*i];
    return -1;
}

bool lookup_wanted(const struct lookup_flags *l)
{
    return l->find_only || l->nhs_number != NULL || l->dob != NULL || l->forename != NULL ||
           l->surname != NULL || l->postcode != NULL || l->ehr_partner != NULL ||
           l->ehr_partner_id != NULL;
}

int check_lookup_flags(const struct lookup_flags *l, bool message_flags, bool patient_id)
{
    bool demographic = l->forename != NULL || l->surname != NULL || l->postcode != NULL;
    if (l->find_only && (message_flags || patient_id)) {
        return fail(EXIT_INVALID,
                    "--find-patient only looks the patient up: drop --patient-id, --type, "
                    "--message and the message's options (try --help)",
                    NULL);
    }
    if (!lookup_wanted(l)) {
        return -1;
    }
    if (patient_id) {
        return fail(EXIT_INVALID,
                    "--patient-id and the lookup flags contradict each other: give one or the "
                    "other (try --help)",
                    NULL);
    }
    if (l->nhs_number != NULL && demographic) {
        return fail(EXIT_INVALID,
                    "give --nhs-number or --forename/--surname/--postcode, not both (try --help)",
                    NULL);
    }
    if (l->dob == NULL) {
        return fail(EXIT_INVALID, "--dob is required to find the patient (try --help)", NULL);
    }
    if (l->nhs_number == NULL && (l->forename == NULL || l->surname == NULL || l->postcode == NULL)) {
        return fail(EXIT_INVALID,
                    "give --nhs-number, or all of --forename, --surname and --postcode, with "
                    "--dob (try --help)",
                    NULL);
    }
    return -1;
}

int build_query(const struct lookup_flags *l, hero_patient_query **out)
{
    int rc = l->nhs_number != NULL
                 ? check_set(hero_patient_query_new_nhs_number(l->nhs_number, l->dob, out),
                             "--nhs-number or --dob")
                 : check_set(hero_patient_query_new_demographics(l->forename, l->surname, l->dob,
                                                                  l->postcode, out),
                             "--forename, --surname, --dob or --postcode");
    if (rc == -1 && l->ehr_partner != NULL) {
        rc = check_set(hero_patient_query_set_ehr_partner(*out, l->ehr_partner), "--ehr-partner");
    }
    if (rc == -1 && l->ehr_partner_id != NULL) {
        rc = check_set(hero_patient_query_set_ehr_partner_id(*out, l->ehr_partner_id),
                       "--ehr-partner-id");
    }
    return rc;
}

int print_patient(const hero_patient *patient)
{
    if (puts(hero_patient_json(patient)) < 0 || fflush(stdout) != 0) {
        /* Nothing was sent; only our output failed. */
        return fail(1, "the answer could not be written out", NULL);
    }
    return hero_patient_exit_code(patient);
}

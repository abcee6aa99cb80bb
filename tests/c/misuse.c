/*
 * misuse.c: a TEST program, not an example to copy. It misuses every
 * function of the C ABI on purpose (NULL arguments, invalid UTF-8,
 * out-of-range enum values, failed creates) and asserts the status codes
 * and NULL out-parameters that include/herohealth.h documents. It needs no
 * server: the only send that reaches the network goes to a local port that
 * refuses connections.
 *
 * Exits 0 when every assertion holds; otherwise prints each failed one and
 * exits 1. Run by tests/c_programs.rs, also under valgrind.
 */
#define _POSIX_C_SOURCE 200112L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "herohealth.h"

static int checks = 0;
static int failures = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        checks++;                                                                      \
        if (!(cond)) {                                                                 \
            failures++;                                                                \
            fprintf(stderr, "misuse.c:%d: assertion failed: %s\n", __LINE__, #cond);   \
        }                                                                              \
    } while (0)

/* Asserts a status, printing the actual one on failure. */
#define EXPECT(call, want)                                                             \
    do {                                                                               \
        hero_status got_ = (call);                                                     \
        checks++;                                                                      \
        if (got_ != (want)) {                                                          \
            failures++;                                                                \
            fprintf(stderr, "misuse.c:%d: %s returned %d, expected %s (%d)\n", __LINE__, \
                    #call, (int)got_, #want, (int)(want));                             \
        }                                                                              \
    } while (0)

/* Not UTF-8: a lone continuation byte, and an overlong NUL. */
static const char BAD_UTF8[] = "4\xff"
                               "2";
static const char BAD_UTF8_2[] = "\xc0\x80";

/* The few system calls that differ between Unix and Windows. */
#ifdef _WIN32
typedef SOCKET socket_fd;
#define NO_SOCKET INVALID_SOCKET
#define close_socket closesocket
/* The CRT's _putenv_s also updates the process environment the library reads;
 * an empty value removes the variable. */
static void set_env(const char *name, const char *value) { _putenv_s(name, value); }
static void unset_env(const char *name) { _putenv_s(name, ""); }
/* Windows keeps the environment in UTF-16, which cannot hold invalid UTF-8:
 * the counterpart is an unpaired surrogate, which has no UTF-8 form. */
static void set_env_not_unicode(void) { SetEnvironmentVariableW(L"HERO_API_KEY", L"4\xd800" L"2"); }
static long process_id(void) { return (long)GetCurrentProcessId(); }
static const char *temp_dir(void)
{
    const char *dir = getenv("TEMP");
    return dir != NULL ? dir : ".";
}
#else
typedef int socket_fd;
#define NO_SOCKET (-1)
#define close_socket close
static void set_env(const char *name, const char *value) { setenv(name, value, 1); }
static void unset_env(const char *name) { unsetenv(name); }
static void set_env_not_unicode(void) { setenv("HERO_API_KEY", BAD_UTF8, 1); }
static long process_id(void) { return (long)getpid(); }
static const char *temp_dir(void) { return "/tmp"; }
#endif

/* Non-NULL garbage that out-parameters must be reset from on failure. */
static int poison_target;
#define POISON(type) ((type *)(void *)&poison_target)

typedef hero_status (*string_setter)(hero_message *, const char *);
static const struct {
    const char *name;
    string_setter set;
} STRING_SETTERS[] = {
    {"recipient_contact_detail", hero_message_set_recipient_contact_detail},
    {"fallback_contact_detail", hero_message_set_fallback_contact_detail},
    {"snomed_code", hero_message_set_snomed_code},
    {"snomed_term", hero_message_set_snomed_term},
    {"task_id", hero_message_set_task_id},
    {"attachment_uuid", hero_message_set_attachment_uuid},
    {"short_link_id", hero_message_set_short_link_id},
    {"send_at", hero_message_set_send_at},
    {"encrypted (text)", hero_message_set_encrypted_text},
};

typedef const char *(*response_string)(const hero_response *);
static const response_string RESPONSE_STRINGS[] = {
    hero_response_message_id,   hero_response_json,
    hero_response_content,      hero_response_created_at,
    hero_response_snomed_code,  hero_response_auth_token,
    hero_response_confirm_write_to_record_url,
    hero_response_submitted_by, hero_response_send_at,
};

static void log_line(void *user_data, uint32_t level, const char *line)
{
    (void)level;
    (void)line;
    ++*(int *)user_data;
}

/* A loopback port that refuses connections: bound but not listening. */
static int refusing_port(socket_fd *fd_out)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    socket_fd fd;
#ifdef _WIN32
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        return -1;
    }
#endif
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == NO_SOCKET) {
        return -1;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close_socket(fd);
        return -1;
    }
    *fd_out = fd;
    return ntohs(addr.sin_port);
}

static void version(void)
{
    char want[32];
    const char *v = hero_version();
    CHECK(v != NULL);
    snprintf(want, sizeof want, "%d.%d.%d", HERO_VERSION_MAJOR, HERO_VERSION_MINOR,
             HERO_VERSION_PATCH);
    CHECK(v != NULL && strcmp(v, want) == 0);
    /* Any int is safe to describe, known or not. */
    CHECK(strcmp(hero_status_text(HERO_OK), "ok") == 0);
    CHECK(strstr(hero_status_text(HERO_MAY_HAVE_BEEN_SENT), "may have been sent") != NULL);
    CHECK(strcmp(hero_status_text(-7), "unknown status") == 0);
    CHECK(strcmp(hero_status_text(1 << 30), "unknown status") == 0);
}

static void frees_accept_null(void)
{
    hero_config_free(NULL);
    hero_client_free(NULL);
    hero_message_free(NULL);
    hero_response_free(NULL);
    hero_error_free(NULL);
    checks++;
}

static void config_new(void)
{
    hero_config *cfg;
    const char *url = "http://127.0.0.1:9";

    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, url, "k", "g", NULL), HERO_NULL_ARGUMENT);

#define CONFIG_FAILS(target, base, key, group, want)                                   \
    do {                                                                               \
        cfg = POISON(hero_config);                                                     \
        EXPECT(hero_config_new((target), (base), (key), (group), &cfg), want);         \
        CHECK(cfg == NULL);                                                            \
        hero_config_free(cfg);                                                         \
    } while (0)

    CONFIG_FAILS(HERO_TARGET_CUSTOM, url, NULL, "g", HERO_NULL_ARGUMENT);
    CONFIG_FAILS(HERO_TARGET_CUSTOM, url, "k", NULL, HERO_NULL_ARGUMENT);
    CONFIG_FAILS(HERO_TARGET_CUSTOM, url, BAD_UTF8, "g", HERO_INVALID_UTF8);
    CONFIG_FAILS(HERO_TARGET_CUSTOM, url, "k", BAD_UTF8_2, HERO_INVALID_UTF8);
    CONFIG_FAILS(HERO_TARGET_CUSTOM, BAD_UTF8, "k", "g", HERO_INVALID_UTF8);
    /* Out-of-range targets, and base_url given where it must not be. */
    CONFIG_FAILS(0, NULL, "k", "g", HERO_INVALID_ARGUMENT);
    CONFIG_FAILS(4, NULL, "k", "g", HERO_INVALID_ARGUMENT);
    CONFIG_FAILS(UINT32_MAX, url, "k", "g", HERO_INVALID_ARGUMENT);
    CONFIG_FAILS(HERO_TARGET_PRODUCTION, url, "k", "g", HERO_INVALID_ARGUMENT);
    CONFIG_FAILS(HERO_TARGET_STAGING, url, "k", "g", HERO_INVALID_ARGUMENT);

    /* base_url is required for HERO_TARGET_CUSTOM: NULL is HERO_NULL_ARGUMENT. */
    cfg = POISON(hero_config);
    {
        hero_status s = hero_config_new(HERO_TARGET_CUSTOM, NULL, "k", "g", &cfg);
        CHECK(s == HERO_NULL_ARGUMENT);
    }
    CHECK(cfg == NULL);
#undef CONFIG_FAILS

    /* The named targets need no base_url; nothing is contacted here. */
    cfg = NULL;
    EXPECT(hero_config_new(HERO_TARGET_STAGING, NULL, "k", "g", &cfg), HERO_OK);
    CHECK(cfg != NULL);
    hero_config_free(cfg);
}

static void config_from_env(void)
{
    hero_config *cfg;
    hero_error *err;
    static const char *const VARS[] = {"HERO_API_KEY", "HERO_PRACTICE_GROUP_ID",
                                       "HERO_BASE_URL", "HERO_ENVIRONMENT", "HERO_CA_FILE"};
    size_t i;

    for (i = 0; i < sizeof VARS / sizeof VARS[0]; i++) {
        unset_env(VARS[i]);
    }
    err = POISON(hero_error);
    EXPECT(hero_config_new_from_env(NULL, &err), HERO_NULL_ARGUMENT);
    /* Every failure path leaves *error_out NULL when there is no error object. */
    CHECK(err == NULL);

    /* Nothing set: not sent, the error names the variable. */
    cfg = POISON(hero_config);
    err = POISON(hero_error);
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_NOT_SENT);
    CHECK(cfg == NULL);
    CHECK(err != NULL && err != POISON(hero_error));
    if (err != NULL && err != POISON(hero_error)) {
        const char *text = hero_error_message(err);
        EXPECT(hero_error_status(err), HERO_NOT_SENT);
        CHECK(hero_error_kind(err) == HERO_KIND_CONFIG);
        CHECK(text != NULL && strstr(text, "HERO_API_KEY") != NULL);
        CHECK(hero_error_http_status(err) == 0);
        CHECK(hero_error_attempts(err) == 0);
        hero_error_free(err);
    }

    /* error_out may be NULL. */
    cfg = POISON(hero_config);
    EXPECT(hero_config_new_from_env(&cfg, NULL), HERO_NOT_SENT);
    CHECK(cfg == NULL);

    /* Invalid UTF-8 in a variable, no target, an unknown environment, and
     * both targets at once: all refused. */
    set_env_not_unicode();
    set_env("HERO_PRACTICE_GROUP_ID", "g");
    set_env("HERO_BASE_URL", "http://127.0.0.1:9");
    cfg = POISON(hero_config);
    err = NULL;
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_NOT_SENT);
    CHECK(cfg == NULL && err != NULL);
    CHECK(hero_error_kind(err) == HERO_KIND_CONFIG);
    hero_error_free(err);

    set_env("HERO_API_KEY", "k");
    unset_env("HERO_BASE_URL");
    cfg = POISON(hero_config);
    err = NULL;
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_NOT_SENT);
    CHECK(cfg == NULL && err != NULL);
    hero_error_free(err);

    set_env("HERO_ENVIRONMENT", "prod");
    cfg = POISON(hero_config);
    err = NULL;
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_NOT_SENT);
    CHECK(cfg == NULL && err != NULL);
    hero_error_free(err);

    set_env("HERO_ENVIRONMENT", "staging");
    set_env("HERO_BASE_URL", "http://127.0.0.1:9");
    cfg = POISON(hero_config);
    err = NULL;
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_NOT_SENT);
    CHECK(cfg == NULL && err != NULL);
    hero_error_free(err);

    /* And a good environment works. */
    unset_env("HERO_ENVIRONMENT");
    cfg = NULL;
    err = POISON(hero_error);
    EXPECT(hero_config_new_from_env(&cfg, &err), HERO_OK);
    CHECK(cfg != NULL && err == NULL);
    hero_config_free(cfg);

    for (i = 0; i < sizeof VARS / sizeof VARS[0]; i++) {
        unset_env(VARS[i]);
    }
}

static void config_setters(void)
{
    hero_config *cfg = NULL;
    int lines = 0;

    EXPECT(hero_config_set_connect_timeout_ms(NULL, 1000), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_deadline_ms(NULL, 1000), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_max_attempts(NULL, 1), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_max_retry_wait_ms(NULL, 1000), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_max_idle_age_ms(NULL, 1000), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_strict_checks(NULL, false), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_user_agent_suffix(NULL, "EHR/1"), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_ca_file(NULL, "/nonexistent.pem"), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_proxy(NULL, "http://127.0.0.1:3128"), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_log_callback(NULL, log_line, &lines), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_log_callback(NULL, NULL, NULL), HERO_NULL_ARGUMENT);

    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, "http://127.0.0.1:9", "k", "g", &cfg), HERO_OK);
    EXPECT(hero_config_set_user_agent_suffix(cfg, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_user_agent_suffix(cfg, BAD_UTF8), HERO_INVALID_UTF8);
    EXPECT(hero_config_set_ca_file(cfg, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_ca_file(cfg, BAD_UTF8_2), HERO_INVALID_UTF8);
    EXPECT(hero_config_set_proxy(cfg, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_config_set_proxy(cfg, BAD_UTF8), HERO_INVALID_UTF8);
    /* Extreme values are accepted (0 attempts means 1). */
    EXPECT(hero_config_set_connect_timeout_ms(cfg, UINT32_MAX), HERO_OK);
    EXPECT(hero_config_set_deadline_ms(cfg, 0), HERO_OK);
    EXPECT(hero_config_set_max_attempts(cfg, 0), HERO_OK);
    EXPECT(hero_config_set_max_retry_wait_ms(cfg, UINT32_MAX), HERO_OK);
    EXPECT(hero_config_set_max_idle_age_ms(cfg, 0), HERO_OK);
    EXPECT(hero_config_set_max_idle_age_ms(cfg, UINT32_MAX), HERO_OK);
    EXPECT(hero_config_set_strict_checks(cfg, true), HERO_OK);
    EXPECT(hero_config_set_user_agent_suffix(cfg, "EHR/1"), HERO_OK);
    EXPECT(hero_config_set_log_callback(cfg, log_line, &lines), HERO_OK);
    EXPECT(hero_config_set_log_callback(cfg, NULL, NULL), HERO_OK);
    hero_config_free(cfg);
}

/* A client that cannot be made: out-parameters NULL, error filled in, and
 * the NULL client then refused by every function that takes one. */
static void failed_client(const char *key, const char *base_url, const char *ca_file,
                          const char *proxy, const char *suffix)
{
    hero_config *cfg = NULL;
    hero_client *client = POISON(hero_client);
    hero_error *err = POISON(hero_error);
    hero_message *msg = NULL;
    hero_response *resp = POISON(hero_response);
    hero_error *send_err = POISON(hero_error);

    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, base_url, key, "g", &cfg), HERO_OK);
    if (ca_file != NULL) {
        EXPECT(hero_config_set_ca_file(cfg, ca_file), HERO_OK);
    }
    if (proxy != NULL) {
        EXPECT(hero_config_set_proxy(cfg, proxy), HERO_OK);
    }
    if (suffix != NULL) {
        EXPECT(hero_config_set_user_agent_suffix(cfg, suffix), HERO_OK);
    }
    EXPECT(hero_client_new(cfg, &client, &err), HERO_NOT_SENT);
    hero_config_free(cfg);
    CHECK(client == NULL);
    CHECK(err != NULL && err != POISON(hero_error));
    if (err == POISON(hero_error)) {
        err = NULL;
    }
    EXPECT(hero_error_status(err), HERO_NOT_SENT);
    CHECK(hero_error_kind(err) == HERO_KIND_CONFIG ||
          hero_error_kind(err) == HERO_KIND_INVALID_INPUT);
    CHECK(hero_error_message(err) != NULL);
    CHECK(hero_error_kind(err) != HERO_KIND_INVALID_INPUT || hero_error_field(err) != NULL);
    /* The key never shows in the error text. */
    CHECK(key[0] == '\0' || hero_error_message(err) == NULL ||
          strstr(hero_error_message(err), key) == NULL);
    hero_error_free(err);

    /* Sending with the NULL client the failed create left. */
    EXPECT(hero_message_new("4242", HERO_MESSAGE_TYPE_HERO, "hello", &msg), HERO_OK);
    EXPECT(hero_client_send(client, msg, &resp, &send_err), HERO_NULL_ARGUMENT);
    CHECK(resp == NULL);
    CHECK(send_err == NULL);
    EXPECT(hero_client_check(client, msg, NULL), HERO_NULL_ARGUMENT);
    CHECK(hero_client_connections_opened(client) == 0);
    hero_client_free(client);
    hero_message_free(msg);
}

static void client_new(void)
{
    hero_config *cfg = NULL;
    hero_client *client = POISON(hero_client);
    hero_error *err = POISON(hero_error);

    EXPECT(hero_client_new(NULL, &client, &err), HERO_NULL_ARGUMENT);
    CHECK(client == NULL);
    CHECK(err == NULL);
    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, "http://127.0.0.1:9", "k", "g", &cfg), HERO_OK);
    EXPECT(hero_client_new(cfg, NULL, NULL), HERO_NULL_ARGUMENT);
    hero_config_free(cfg);

    failed_client("", "http://127.0.0.1:9", NULL, NULL, NULL);
    failed_client("key with\nnewline", "http://127.0.0.1:9", NULL, NULL, NULL);
    failed_client("misuse-secret-key-31337", "http://example.com", NULL, NULL, NULL);
    failed_client("k", "not a url", NULL, NULL, NULL);
    failed_client("k", "http://127.0.0.1:9", "/nonexistent/ca.pem", NULL, NULL);
    failed_client("k", "http://127.0.0.1:9", NULL, "not a proxy", NULL);
    failed_client("k", "http://127.0.0.1:9", NULL, NULL, "bad\x01suffix");
}

static void error_accessors_null(void)
{
    size_t len = 12345;
    EXPECT(hero_error_status(NULL), HERO_NULL_ARGUMENT);
    CHECK(hero_error_kind(NULL) == HERO_KIND_NONE);
    CHECK(hero_error_message(NULL) == NULL);
    CHECK(hero_error_field(NULL) == NULL);
    CHECK(hero_error_server_message(NULL) == NULL);
    CHECK(hero_error_http_status(NULL) == 0);
    CHECK(hero_error_retry_after_ms(NULL) == -1);
    CHECK(hero_error_attempts(NULL) == 0);
    CHECK(hero_error_body(NULL, &len) == NULL);
    CHECK(len == 0);
    CHECK(hero_error_body(NULL, NULL) == NULL);
}

static void response_accessors_null(void)
{
    size_t i;
    for (i = 0; i < sizeof RESPONSE_STRINGS / sizeof RESPONSE_STRINGS[0]; i++) {
        CHECK(RESPONSE_STRINGS[i](NULL) == NULL);
    }
    CHECK(hero_response_write_to_record(NULL) == -1);
}

static void message_new(void)
{
    hero_message *msg;

    EXPECT(hero_message_new("4242", HERO_MESSAGE_TYPE_SMS, "hi", NULL), HERO_NULL_ARGUMENT);

#define MESSAGE_FAILS(patient, type, text, want)                                       \
    do {                                                                               \
        msg = POISON(hero_message);                                                    \
        EXPECT(hero_message_new((patient), (type), (text), &msg), want);               \
        CHECK(msg == NULL);                                                            \
        hero_message_free(msg);                                                        \
    } while (0)

    MESSAGE_FAILS(NULL, HERO_MESSAGE_TYPE_SMS, "hi", HERO_NULL_ARGUMENT);
    MESSAGE_FAILS("4242", HERO_MESSAGE_TYPE_SMS, NULL, HERO_NULL_ARGUMENT);
    MESSAGE_FAILS(BAD_UTF8, HERO_MESSAGE_TYPE_SMS, "hi", HERO_INVALID_UTF8);
    MESSAGE_FAILS("4242", HERO_MESSAGE_TYPE_SMS, BAD_UTF8_2, HERO_INVALID_UTF8);
    MESSAGE_FAILS("4242", 0, "hi", HERO_INVALID_ARGUMENT);
    MESSAGE_FAILS("4242", 5, "hi", HERO_INVALID_ARGUMENT);
    MESSAGE_FAILS("4242", UINT32_MAX, "hi", HERO_INVALID_ARGUMENT);
#undef MESSAGE_FAILS
}

static void message_setters(void)
{
    hero_message *msg = NULL;
    size_t i;

    EXPECT(hero_message_new("4242", HERO_MESSAGE_TYPE_SMS, "hi", &msg), HERO_OK);
    for (i = 0; i < sizeof STRING_SETTERS / sizeof STRING_SETTERS[0]; i++) {
        string_setter set = STRING_SETTERS[i].set;
        hero_status s;
        if ((s = set(NULL, "x")) != HERO_NULL_ARGUMENT ||
            (s = set(NULL, NULL)) != HERO_NULL_ARGUMENT ||
            (s = set(msg, NULL)) != HERO_NULL_ARGUMENT ||
            (s = set(msg, BAD_UTF8)) != HERO_INVALID_UTF8 ||
            (s = set(msg, BAD_UTF8_2)) != HERO_INVALID_UTF8) {
            failures++;
            fprintf(stderr, "misuse.c: setter for %s returned %d on misuse\n",
                    STRING_SETTERS[i].name, (int)s);
        }
        checks++;
    }
    EXPECT(hero_message_set_encrypted(NULL, true), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_write_to_record(NULL, true), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_auto_write_to_record(NULL, true), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_assignee_id(NULL, 1), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_fallback_message_type(NULL, HERO_FALLBACK_TYPE_SMS),
           HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_assignee_type(NULL, HERO_ASSIGNEE_TYPE_ADMIN), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_set_fallback_message_type(msg, 0), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_set_fallback_message_type(msg, 3), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_set_fallback_message_type(msg, UINT32_MAX), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_set_assignee_type(msg, 0), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_set_assignee_type(msg, 3), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_set_assignee_type(msg, UINT32_MAX), HERO_INVALID_ARGUMENT);

    /* The failed setters left the message valid: it still passes the checks
     * (checked in messages_checked_before_sending). Good values work. */
    EXPECT(hero_message_set_encrypted(msg, false), HERO_OK);
    EXPECT(hero_message_set_encrypted_text(msg, "yes"), HERO_OK);
    EXPECT(hero_message_set_write_to_record(msg, false), HERO_OK);
    EXPECT(hero_message_set_auto_write_to_record(msg, false), HERO_OK);
    EXPECT(hero_message_set_fallback_message_type(msg, HERO_FALLBACK_TYPE_EMAIL), HERO_OK);
    EXPECT(hero_message_set_assignee_id(msg, -1), HERO_OK); /* range checked at send */
    EXPECT(hero_message_set_assignee_type(msg, HERO_ASSIGNEE_TYPE_ADMIN_TEAM), HERO_OK);
    hero_message_free(msg);
}

static void names(void)
{
    hero_message_type type = 777;
    hero_fallback_type fallback = 777;
    hero_assignee_type assignee = 777;

    EXPECT(hero_message_type_from_name(NULL, &type), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_type_from_name("sms", NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_message_type_from_name(BAD_UTF8, &type), HERO_INVALID_UTF8);
    EXPECT(hero_message_type_from_name("SMS", &type), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_type_from_name("", &type), HERO_INVALID_ARGUMENT);
    EXPECT(hero_message_type_from_name("sms ", &type), HERO_INVALID_ARGUMENT);
    CHECK(type == 777);
    EXPECT(hero_message_type_from_name("hero", &type), HERO_OK);
    CHECK(type == HERO_MESSAGE_TYPE_HERO);
    EXPECT(hero_message_type_from_name("sms", &type), HERO_OK);
    CHECK(type == HERO_MESSAGE_TYPE_SMS);
    EXPECT(hero_message_type_from_name("email", &type), HERO_OK);
    CHECK(type == HERO_MESSAGE_TYPE_EMAIL);
    EXPECT(hero_message_type_from_name("nhs_app", &type), HERO_OK);
    CHECK(type == HERO_MESSAGE_TYPE_NHS_APP);

    EXPECT(hero_fallback_type_from_name(NULL, &fallback), HERO_NULL_ARGUMENT);
    EXPECT(hero_fallback_type_from_name("sms", NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_fallback_type_from_name(BAD_UTF8_2, &fallback), HERO_INVALID_UTF8);
    EXPECT(hero_fallback_type_from_name("hero", &fallback), HERO_INVALID_ARGUMENT);
    EXPECT(hero_fallback_type_from_name("nhs_app", &fallback), HERO_INVALID_ARGUMENT);
    CHECK(fallback == 777);
    EXPECT(hero_fallback_type_from_name("sms", &fallback), HERO_OK);
    CHECK(fallback == HERO_FALLBACK_TYPE_SMS);
    EXPECT(hero_fallback_type_from_name("email", &fallback), HERO_OK);
    CHECK(fallback == HERO_FALLBACK_TYPE_EMAIL);

    EXPECT(hero_assignee_type_from_name(NULL, &assignee), HERO_NULL_ARGUMENT);
    EXPECT(hero_assignee_type_from_name("Admin", NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_assignee_type_from_name(BAD_UTF8, &assignee), HERO_INVALID_UTF8);
    EXPECT(hero_assignee_type_from_name("admin", &assignee), HERO_INVALID_ARGUMENT);
    CHECK(assignee == 777);
    EXPECT(hero_assignee_type_from_name("Admin", &assignee), HERO_OK);
    CHECK(assignee == HERO_ASSIGNEE_TYPE_ADMIN);
    EXPECT(hero_assignee_type_from_name("AdminTeam", &assignee), HERO_OK);
    CHECK(assignee == HERO_ASSIGNEE_TYPE_ADMIN_TEAM);
}

/* A working client aimed at a port that refuses connections: checks and
 * invalid messages never reach the network; one valid send fails to
 * connect, which is HERO_NOT_SENT. */
static void client_calls(void)
{
    hero_config *cfg = NULL;
    hero_client *client = NULL;
    hero_message *good = NULL, *bad = NULL;
    hero_response *resp;
    hero_error *err;
    char url[64];
    socket_fd fd = NO_SOCKET;
    int lines = 0;
    int port = refusing_port(&fd);

    CHECK(port > 0);
    if (port <= 0) {
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, url, "misuse-secret-key-31337", "g", &cfg),
           HERO_OK);
    EXPECT(hero_config_set_max_attempts(cfg, 1), HERO_OK);
    EXPECT(hero_config_set_log_callback(cfg, log_line, &lines), HERO_OK);
    EXPECT(hero_client_new(cfg, &client, NULL), HERO_OK);
    hero_config_free(cfg); /* the client does not need it */
    CHECK(client != NULL);
    CHECK(hero_client_connections_opened(client) == 0);

    EXPECT(hero_message_new("4242", HERO_MESSAGE_TYPE_SMS, "hello", &good), HERO_OK);
    EXPECT(hero_message_new("not-digits", HERO_MESSAGE_TYPE_SMS, "hello", &bad), HERO_OK);

    /* hero_client_check */
    err = POISON(hero_error);
    EXPECT(hero_client_check(NULL, good, &err), HERO_NULL_ARGUMENT);
    CHECK(err == NULL);
    EXPECT(hero_client_check(client, NULL, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_client_check(client, good, NULL), HERO_OK);
    EXPECT(hero_client_check(client, bad, NULL), HERO_NOT_SENT);
    err = NULL;
    EXPECT(hero_client_check(client, bad, &err), HERO_NOT_SENT);
    CHECK(hero_error_kind(err) == HERO_KIND_INVALID_INPUT);
    CHECK(hero_error_field(err) != NULL && strcmp(hero_error_field(err), "patient_id") == 0);
    hero_error_free(err);

    /* hero_client_send with NULLs */
    err = POISON(hero_error);
    EXPECT(hero_client_send(client, good, NULL, &err), HERO_NULL_ARGUMENT);
    CHECK(err == NULL);
    resp = POISON(hero_response);
    err = POISON(hero_error);
    EXPECT(hero_client_send(client, NULL, &resp, &err), HERO_NULL_ARGUMENT);
    CHECK(resp == NULL && err == NULL);
    resp = POISON(hero_response);
    EXPECT(hero_client_send(NULL, good, &resp, NULL), HERO_NULL_ARGUMENT);
    CHECK(resp == NULL);

    /* An invalid message is refused before anything is sent. */
    resp = POISON(hero_response);
    err = NULL;
    EXPECT(hero_client_send(client, bad, &resp, &err), HERO_NOT_SENT);
    CHECK(resp == NULL);
    EXPECT(hero_error_status(err), HERO_NOT_SENT);
    CHECK(hero_error_kind(err) == HERO_KIND_INVALID_INPUT);
    CHECK(hero_error_attempts(err) == 0);
    hero_error_free(err);
    resp = POISON(hero_response);
    EXPECT(hero_client_send(client, bad, &resp, NULL), HERO_NOT_SENT);
    CHECK(resp == NULL);

    /* assignee_id out of range, and after failed setters the message is
     * unchanged and still valid. */
    EXPECT(hero_message_set_assignee_type(good, HERO_ASSIGNEE_TYPE_ADMIN), HERO_OK);
    EXPECT(hero_message_set_assignee_id(good, -5), HERO_OK);
    EXPECT(hero_client_check(client, good, NULL), HERO_NOT_SENT);
    EXPECT(hero_message_set_assignee_id(good, 7), HERO_OK);
    EXPECT(hero_message_set_recipient_contact_detail(good, BAD_UTF8), HERO_INVALID_UTF8);
    EXPECT(hero_message_set_assignee_type(good, 99), HERO_INVALID_ARGUMENT);
    EXPECT(hero_client_check(client, good, NULL), HERO_OK);

    /* A valid message to a refusing port: not sent, no HTTP status. */
    resp = POISON(hero_response);
    err = NULL;
    EXPECT(hero_client_send(client, good, &resp, &err), HERO_NOT_SENT);
    CHECK(resp == NULL);
    CHECK(err != NULL);
    if (err != NULL) {
        size_t len = 99;
        const char *text = hero_error_message(err);
        CHECK(hero_error_kind(err) == HERO_KIND_CONNECT);
        CHECK(hero_error_http_status(err) == 0);
        CHECK(hero_error_retry_after_ms(err) == -1);
        CHECK(hero_error_attempts(err) == 1);
        CHECK(hero_error_field(err) == NULL);
        CHECK(hero_error_server_message(err) == NULL);
        CHECK(hero_error_body(err, &len) == NULL && len == 0);
        CHECK(text != NULL && strstr(text, "misuse-secret-key-31337") == NULL);
        CHECK(text != NULL && strstr(text, "hello") == NULL);
    }
    hero_error_free(err);
    CHECK(lines > 0); /* the log callback was called */

    hero_message_free(good);
    hero_message_free(bad);
    hero_client_free(client);
    close_socket(fd);
}

static void count_row(void *user_data, const hero_batch_row *row,
                      const hero_batch_summary *progress)
{
    int *rows = user_data;
    (*rows)++;
    CHECK(hero_batch_row_json(row) != NULL);
    CHECK(hero_batch_summary_progress_line(progress) != NULL);
}

/* The journal and batch functions: NULL arguments, bad UTF-8 and values,
 * a second opener of a journal, a keyed send to a refusing port (not
 * sent, so nothing flagged), a batch that cannot start, and one stopped
 * before it began. */
static void batch_and_journal(void)
{
    hero_journal *journal = POISON(hero_journal), *second = POISON(hero_journal);
    hero_batch_options *options = POISON(hero_batch_options);
    hero_batch_stop *stop = POISON(hero_batch_stop);
    hero_batch_summary *summary = POISON(hero_batch_summary);
    hero_batch_row *row = POISON(hero_batch_row);
    hero_config *cfg = NULL;
    hero_client *client = NULL;
    hero_message *msg = NULL;
    hero_error *err = NULL;
    hero_resolution resolution = 0;
    char *lines = POISON(char);
    char journal_path[300], csv_path[300], url[64];
    FILE *csv;
    socket_fd fd = NO_SOCKET;
    int rows = 0;
    int port = refusing_port(&fd);

    hero_journal_free(NULL);
    hero_batch_options_free(NULL);
    hero_batch_stop_free(NULL);
    hero_batch_summary_free(NULL);
    hero_batch_row_free(NULL);
    hero_string_free(NULL);
    hero_batch_stop_trigger(NULL);

    EXPECT(hero_journal_open(NULL, &journal, &err), HERO_NULL_ARGUMENT);
    CHECK(journal == NULL && err == NULL);
    EXPECT(hero_journal_open(BAD_UTF8, &journal, NULL), HERO_INVALID_UTF8);
    EXPECT(hero_journal_open("/nonexistent-dir/j", NULL, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_open("/nonexistent-dir/j", &journal, &err), HERO_NOT_SENT);
    CHECK(journal == NULL && hero_error_kind(err) == HERO_KIND_JOURNAL);
    hero_error_free(err);
    err = NULL;
    EXPECT(hero_journal_open_existing(NULL, &journal, &err), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_open_existing(BAD_UTF8, &journal, NULL), HERO_INVALID_UTF8);
    EXPECT(hero_journal_open_existing("nonexistent-journal-file", &journal, &err), HERO_NOT_SENT);
    CHECK(journal == NULL && hero_error_kind(err) == HERO_KIND_JOURNAL);
    hero_error_free(err);
    err = NULL;
    EXPECT(hero_resolution_from_name(NULL, &resolution), HERO_NULL_ARGUMENT);
    EXPECT(hero_resolution_from_name("sent", NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_resolution_from_name(BAD_UTF8, &resolution), HERO_INVALID_UTF8);
    EXPECT(hero_resolution_from_name("maybe", &resolution), HERO_INVALID_ARGUMENT);
    EXPECT(hero_resolution_from_name("not-sent", &resolution), HERO_OK);
    CHECK(resolution == HERO_RESOLUTION_NOT_SENT);
    EXPECT(hero_journal_pending(NULL, &lines), HERO_NULL_ARGUMENT);
    CHECK(lines == NULL);
    EXPECT(hero_journal_pending(NULL, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_resolve(NULL, "k", HERO_RESOLUTION_SENT, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_send(NULL, NULL, NULL, NULL, &row), HERO_NULL_ARGUMENT);
    CHECK(row == NULL);
    EXPECT(hero_batch_options_new(NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_options_set_default(NULL, "message_type", "sms"), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_options_set_concurrency(NULL, 1), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_options_set_check_only(NULL, true), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_options_set_stop(NULL, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_stop_new(NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_run(NULL, NULL, "x.csv", NULL, NULL, NULL, &summary, &err),
           HERO_NULL_ARGUMENT);
    CHECK(summary == NULL && err == NULL);
    CHECK(hero_batch_row_json(NULL) == NULL && hero_batch_row_key(NULL) == NULL);
    CHECK(hero_batch_row_message_id(NULL) == NULL);
    CHECK(hero_batch_row_outcome(NULL) == HERO_ROW_MAY_HAVE_BEEN_SENT);
    CHECK(hero_batch_summary_class(NULL) == HERO_BATCH_FLAGGED);
    CHECK(hero_batch_summary_count(NULL, HERO_ROW_SENT) == 0);
    CHECK(hero_batch_summary_line(NULL) == NULL);
    CHECK(hero_batch_summary_progress_line(NULL) == NULL);
    EXPECT(hero_config_set_max_sends_per_second(NULL, 5.0), HERO_NULL_ARGUMENT);

    EXPECT(hero_batch_options_new(&options), HERO_OK);
    EXPECT(hero_batch_options_set_default(options, "no_such_field", "x"), HERO_INVALID_ARGUMENT);
    EXPECT(hero_batch_options_set_default(options, "message_type", NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_options_set_default(options, BAD_UTF8, "x"), HERO_INVALID_UTF8);
    EXPECT(hero_batch_options_set_default(options, "message_type", "hero"), HERO_OK);
    EXPECT(hero_batch_options_set_default(options, "message_string", "hello"), HERO_OK);
    EXPECT(hero_batch_options_set_concurrency(options, 0), HERO_OK);
    EXPECT(hero_batch_options_set_check_only(options, false), HERO_OK);
    EXPECT(hero_batch_options_set_stop(options, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_batch_stop_new(&stop), HERO_OK);
    EXPECT(hero_batch_options_set_stop(options, stop), HERO_OK);

    CHECK(port > 0);
    if (port <= 0) {
        hero_batch_options_free(options);
        hero_batch_stop_free(stop);
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    EXPECT(hero_config_new(HERO_TARGET_CUSTOM, url, "k", "g", &cfg), HERO_OK);
    EXPECT(hero_config_set_max_attempts(cfg, 1), HERO_OK);
    EXPECT(hero_config_set_max_sends_per_second(cfg, 1000.0), HERO_OK);
    EXPECT(hero_client_new(cfg, &client, NULL), HERO_OK);
    hero_config_free(cfg);
    EXPECT(hero_message_new("4242", HERO_MESSAGE_TYPE_HERO, "hello", &msg), HERO_OK);

    snprintf(journal_path, sizeof journal_path, "%s/hero-misuse-%ld.journal", temp_dir(), process_id());
    snprintf(csv_path, sizeof csv_path, "%s/hero-misuse-%ld.csv", temp_dir(), process_id());
    remove(journal_path);
    EXPECT(hero_journal_open(journal_path, &journal, &err), HERO_OK);
    EXPECT(hero_journal_open(journal_path, &second, &err), HERO_NOT_SENT);
    CHECK(second == NULL && hero_error_kind(err) == HERO_KIND_JOURNAL);
    hero_error_free(err);
    err = NULL;

    EXPECT(hero_journal_send(journal, client, BAD_UTF8, msg, &row), HERO_INVALID_UTF8);
    EXPECT(hero_journal_send(journal, client, NULL, msg, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_send(journal, client, NULL, msg, &row), HERO_OK);
    CHECK(hero_batch_row_outcome(row) == HERO_ROW_NOT_SENT);
    CHECK(hero_batch_row_key(row) != NULL && strncmp(hero_batch_row_key(row), "auto-", 5) == 0);
    CHECK(hero_batch_row_message_id(row) == NULL);
    CHECK(strstr(hero_batch_row_json(row), "\"outcome\":\"not_sent\"") != NULL);
    hero_batch_row_free(row);
    EXPECT(hero_journal_pending(journal, &lines), HERO_OK);
    CHECK(lines != NULL && lines[0] == '\0'); /* not sent: nothing to reconcile */
    hero_string_free(lines);
    EXPECT(hero_journal_resolve(journal, "unknown", 99, NULL), HERO_INVALID_ARGUMENT);
    EXPECT(hero_journal_resolve(journal, NULL, HERO_RESOLUTION_SENT, NULL), HERO_NULL_ARGUMENT);
    EXPECT(hero_journal_resolve(journal, "unknown", HERO_RESOLUTION_SENT, &err), HERO_NOT_SENT);
    CHECK(hero_error_field(err) != NULL && strcmp(hero_error_field(err), "key") == 0);
    hero_error_free(err);
    err = NULL;

    EXPECT(hero_batch_run(client, journal, "/nonexistent.csv", options, count_row, &rows,
                          &summary, &err),
           HERO_NOT_SENT);
    CHECK(summary == NULL && hero_error_kind(err) == HERO_KIND_CONFIG && rows == 0);
    hero_error_free(err);
    err = NULL;

    /* Stopped before it began: every row reported, none sent. */
    csv = fopen(csv_path, "w");
    CHECK(csv != NULL);
    if (csv != NULL) {
        fputs("patient_id\n1001\n1002\n", csv);
        fclose(csv);
        hero_batch_stop_trigger(stop);
        EXPECT(hero_batch_run(client, journal, csv_path, options, count_row, &rows, &summary,
                              &err),
               HERO_OK);
        CHECK(rows == 2 && err == NULL);
        CHECK(hero_batch_summary_count(summary, HERO_ROW_NOT_SENT) == 2);
        CHECK(hero_batch_summary_class(summary) == HERO_BATCH_INCOMPLETE);
        CHECK(hero_batch_summary_line(summary) != NULL);
        CHECK(hero_client_connections_opened(client) == 0);
        hero_batch_summary_free(summary);
        remove(csv_path);
    }

    hero_journal_free(journal);
    remove(journal_path);
    hero_message_free(msg);
    hero_client_free(client);
    hero_batch_options_free(options);
    hero_batch_stop_free(stop);
    close_socket(fd);
}

int main(void)
{
    version();
    frees_accept_null();
    config_new();
    config_from_env();
    config_setters();
    client_new();
    error_accessors_null();
    response_accessors_null();
    message_new();
    message_setters();
    names();
    client_calls();
    batch_and_journal();

    if (failures != 0) {
        fprintf(stderr, "misuse: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("misuse: all %d checks passed\n", checks);
    return 0;
}

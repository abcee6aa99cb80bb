/*
 * key_wipe.c: checks that the API key does not outlive hero_client_free.
 *
 * Sends two messages over plain HTTP (the local mock) with a key given
 * reversed on the command line, wipes its own copy, frees everything, then
 * reads every writable mapping of the process (/proc/self/maps) and fails
 * if the key is still anywhere: heap, stacks, static data.
 *
 * Freed heap memory is soon reused, which would hide a copy freed without
 * being wiped; so the program is linked with -Wl,--wrap=free,--wrap=realloc
 * (see the Makefile), and every block the library frees (or moves) is
 * scanned at that moment too.
 *
 * Linux only (/proc, malloc_usable_size, GNU ld); elsewhere it exits 77.
 *
 *   key_wipe BASE_URL PRACTICE_GROUP_ID REVERSED_KEY
 *
 * Exit: 0 no copy found; 1 a copy found (each one's mapping is printed);
 * 2 usage or a failed send; 77 not Linux.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <malloc.h>
#endif

#include "herohealth.h"

#ifndef __linux__
int main(void)
{
    fputs("key_wipe: Linux only (reads /proc/self/maps)\n", stderr);
    return 77;
}
#else

#define MAX_KEY 128
/* The key is kept only masked, so the scanner's own pattern is no copy. */
#define MASK 0x5a

static unsigned char masked[MAX_KEY];
static size_t key_len;
/* Copies found in blocks at the moment they were freed. */
static int freed_copies;

static int scan(const unsigned char *start, const unsigned char *end);

/* Zeroes a buffer in a way the compiler keeps. */
static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n-- > 0) {
        *v++ = 0;
    }
}

static int send_two(const char *base_url, const char *group, char *key)
{
    hero_config *config = NULL;
    hero_client *client = NULL;
    hero_error *error = NULL;
    hero_status status;
    int i;
    int ok = 1;

    status = hero_config_new(HERO_TARGET_CUSTOM, base_url, key, group, &config);
    /* The library copied the key: the caller's copy is the caller's to wipe. */
    wipe(key, strlen(key));
    if (status != HERO_OK) {
        fprintf(stderr, "hero_config_new: status %d\n", (int)status);
        return 0;
    }
    status = hero_client_new(config, &client, &error);
    hero_config_free(config);
    if (status != HERO_OK) {
        fprintf(stderr, "hero_client_new: %s\n", error ? hero_error_message(error) : "?");
        hero_error_free(error);
        return 0;
    }
    for (i = 0; i < 2 && ok; i++) {
        hero_message *message = NULL;
        hero_response *response = NULL;
        status = hero_message_new("4242", HERO_MESSAGE_TYPE_SMS,
                                  "Your flu jab is due. Please book online.", &message);
        if (status == HERO_OK) {
            status = hero_message_set_recipient_contact_detail(message, "07700 900123");
        }
        if (status == HERO_OK) {
            status = hero_client_send(client, message, &response, &error);
        }
        if (status != HERO_OK) {
            fprintf(stderr, "send %d: %s\n", i + 1, error ? hero_error_message(error) : "?");
            ok = 0;
        }
        hero_response_free(response);
        hero_error_free(error);
        error = NULL;
        hero_message_free(message);
    }
    hero_client_free(client);
    return ok;
}

/* Counts copies of the key in [start, end), comparing through the mask. */
static int scan(const unsigned char *start, const unsigned char *end)
{
    int found = 0;
    const unsigned char *p;
    if ((size_t)(end - start) < key_len) {
        return 0;
    }
    for (p = start; p + key_len <= end; p++) {
        size_t i = 0;
        while (i < key_len && (unsigned char)(p[i] ^ MASK) == masked[i]) {
            i++;
        }
        if (i == key_len) {
            found++;
        }
    }
    return found;
}

/* The linker sends every free and realloc of this program and of the
 * static library here (libc's own calls are not wrapped). */
void __real_free(void *p);
void *__real_realloc(void *p, size_t n);

void __wrap_free(void *p)
{
    if (p != NULL && key_len > 0) {
        const unsigned char *b = p;
        freed_copies += scan(b, b + malloc_usable_size(p));
    }
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t n)
{
    int before = 0;
    void *moved;
    if (p != NULL && key_len > 0) {
        const unsigned char *b = p;
        before = scan(b, b + malloc_usable_size(p));
    }
    moved = __real_realloc(p, n);
    /* Moved: the old block was freed as it was. */
    if (moved != NULL && moved != p) {
        freed_copies += before;
    }
    return moved;
}

int main(int argc, char **argv)
{
    char key[MAX_KEY];
    size_t i;
    FILE *maps;
    char line[512];
    int total = 0;

    if (argc != 4 || strlen(argv[3]) == 0 || strlen(argv[3]) >= MAX_KEY) {
        fputs("usage: key_wipe BASE_URL PRACTICE_GROUP_ID REVERSED_KEY\n", stderr);
        return 2;
    }
    key_len = strlen(argv[3]);
    for (i = 0; i < key_len; i++) {
        key[i] = argv[3][key_len - 1 - i];
        masked[i] = (unsigned char)(key[i] ^ MASK);
    }
    key[key_len] = '\0';

    if (!send_two(argv[1], argv[2], key)) {
        return 2;
    }

    maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) {
        perror("/proc/self/maps");
        return 2;
    }
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long start, end;
        char perms[8];
        int n;
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3) {
            continue;
        }
        /* Readable and writable mappings only: heap, stacks, data, anonymous. */
        if (perms[0] != 'r' || perms[1] != 'w') {
            continue;
        }
        n = scan((const unsigned char *)start, (const unsigned char *)end);
        if (n > 0) {
            fprintf(stderr, "%d copy(ies) of the key in %s", n, line);
            total += n;
        }
    }
    fclose(maps);
    if (freed_copies > 0) {
        fprintf(stderr, "key_wipe: %d copy(ies) of the key in memory freed without wiping\n",
                freed_copies);
    }
    if (total > 0) {
        fprintf(stderr, "key_wipe: %d copy(ies) of the key left after hero_client_free\n", total);
    }
    if (freed_copies > 0 || total > 0) {
        return 1;
    }
    puts("key_wipe: no copy of the key left after hero_client_free");
    return 0;
}
#endif

/*
 * LD_PRELOAD shim for the journal's fault tests (Linux, test-only).
 *
 * HERO_TEST_FAIL_FDATASYNC_AFTER=N: fdatasync succeeds N times, then fails
 *   with EIO every time (as a disk that lost the pages does).
 * HERO_TEST_SHORT_PWRITE=1: every pwrite writes only half of what it is
 *   given (at least one byte), as the kernel may; callers must loop.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

static atomic_long syncs;

int fdatasync(int fd)
{
    static int (*real)(int);
    const char *after = getenv("HERO_TEST_FAIL_FDATASYNC_AFTER");
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    if (after != NULL && atomic_fetch_add(&syncs, 1) >= atol(after)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

static size_t shorter(size_t count)
{
    const char *shorten = getenv("HERO_TEST_SHORT_PWRITE");
    return shorten != NULL && count > 1 ? count / 2 : count;
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (real == NULL) {
        real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
    }
    return real(fd, buf, shorter(count), offset);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    return pwrite64(fd, buf, count, offset);
}

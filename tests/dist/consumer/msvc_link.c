/*
 * msvc_link.c: checks the Windows zip's MSVC import library, herohealth.lib.
 * tests/dist/check-archive.sh compiles it with clang-cl in MSVC mode and
 * links it with lld-link (MSVC's linker interface) against herohealth.lib
 * alone, with no C runtime, then runs it under Wine beside herohealth.dll.
 * Exits 0 if the DLL was loaded and reports the header's major version.
 */
#include "herohealth.h"

int entry(void)
{
    const char *v = hero_version();
    return (v != 0 && v[0] == '0' + HERO_VERSION_MAJOR && hero_status_text(HERO_OK) != 0) ? 0 : 1;
}

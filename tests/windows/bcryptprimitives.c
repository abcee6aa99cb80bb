/*
 * bcryptprimitives.c: a test-only stand-in for Windows' bcryptprimitives.dll.
 *
 * Rust's standard library (1.78 and later) takes its random numbers from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and later always
 * have but Wine 8 does not: without this file no Rust program starts under
 * Wine 8. It is built with MinGW and copied into the test Wine prefix only;
 * it is never shipped. It forwards to RtlGenRandom (SystemFunction036 in
 * advapi32), which Wine implements over the host's random source.
 */
#include <windows.h>

/* RtlGenRandom's real export name; advapi32 has no header declaration for it. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: fill large requests in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x40000000u ? 0x40000000u : (ULONG)length;
        if (!SystemFunction036(data, piece)) {
            /* Windows' ProcessPrng never fails; a program cannot go on without randomness. */
            ExitProcess(0xC0000001u);
        }
        data += piece;
        length -= piece;
    }
    return TRUE;
}

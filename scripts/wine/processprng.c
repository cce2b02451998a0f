/*
 * Minimal stand-in for Windows' bcryptprimitives.dll, for running Go test
 * binaries under Wine releases that lack it (e.g. Debian 12's wine 8.0).
 *
 * Go >= 1.22 on Windows loads bcryptprimitives.dll at startup and calls
 * ProcessPrng for its random source; without the DLL the binary dies with
 * "bcryptprimitives.dll not found". This DLL exports ProcessPrng and
 * forwards to advapi32's SystemFunction036 (RtlGenRandom).
 *
 * Build (see wine_prefix_setup in scripts/wine/prefix.sh):
 *   x86_64-w64-mingw32-gcc -O2 -shared -o bcryptprimitives.dll \
 *       processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom is exported from advapi32 as SystemFunction036. */
BOOLEAN WINAPI SystemFunction036(PVOID RandomBuffer, ULONG RandomBufferLength);

BOOL WINAPI ProcessPrng(PBYTE pbData, SIZE_T cbData)
{
    /* SystemFunction036 takes a ULONG length; feed large requests in chunks. */
    while (cbData > 0) {
        ULONG n = cbData > 0x40000000 ? 0x40000000 : (ULONG)cbData;
        if (!SystemFunction036(pbData, n))
            return FALSE;
        pbData += n;
        cbData -= n;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE hinst, DWORD reason, LPVOID reserved)
{
    (void)hinst; (void)reason; (void)reserved;
    return TRUE;
}

/*
 * What the C examples share (and the C test programs beside them): a portable sleep between frames,
 * and printing why a gameclips call failed. Header-only; copy it with an example.
 */
#ifndef GAMECLIPS_EXAMPLE_SUPPORT_H
#define GAMECLIPS_EXAMPLE_SUPPORT_H

#include <stdio.h>

#include "gameclips.h"

#if defined(_WIN32)
#include <windows.h>
static inline void sleep_ms(unsigned ms) { Sleep(ms); }
#else
#include <time.h>
static inline void sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}
#endif

/* Prints "WHAT: CLIPS_E_...: the calling thread's last error message" to stderr. */
static inline void print_error(const char *what, ClipsResult result) {
    char message[512];
    size_t len = 0;
    clips_last_error_message(message, sizeof message, &len);
    fprintf(stderr, "%s: %s: %s\n", what, clips_result_name(result), message);
}

/* print_error, then 1: what main returns when a call failed. */
static inline int fail(const char *what, ClipsResult result) {
    print_error(what, result);
    return 1;
}

#endif /* GAMECLIPS_EXAMPLE_SUPPORT_H */

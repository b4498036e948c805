/*
 * What the C test programs share (the Rust tests build them): a CHECK that counts failures and prints
 * the calling thread's last gameclips error, and beginning an upload in either mode. With the examples'
 * support (a portable sleep_ms, print_error).
 */
#ifndef GAMECLIPS_TEST_HARNESS_H
#define GAMECLIPS_TEST_HARNESS_H

#include <stdint.h>

#include "../../examples/c/example_support.h"

#define SCID "00000000-0000-0000-0000-00006e7c2ab1"

/* Conditions that did not hold; the program exits 1 when any did. */
static int failures = 0;

static inline void check_failed(int line, const char *condition) {
    char why[512];
    size_t len = 0;
    clips_last_error_message(why, sizeof why, &len);
    fprintf(stderr, "line %d: %s does not hold (%s)\n", line, condition, why);
    failures++;
}

#define CHECK(cond)                                                                                       \
    do {                                                                                                  \
        if (!(cond)) check_failed(__LINE__, #cond);                                                       \
    } while (0)

/* Begins an upload: of `file` in file mode, or (file NULL) of `size` bytes the test pushes. */
static inline ClipsHandle begin_upload(ClipsClient *c, const char *file, uint64_t size) {
    ClipsUploadOptions u;
    clips_upload_options_init(&u);
    u.scid = SCID;
    u.file_path = file;
    u.file_size = file ? 0 : size;
    ClipsHandle h = 0;
    CHECK(clips_begin_upload(c, &u, &h) == CLIPS_OK);
    return h;
}

#endif /* GAMECLIPS_TEST_HARNESS_H */

/* Crash and resume as a game sees it (tests/windows.rs): the first run begins a file upload with a
 * journal_dir and prints each block acknowledged until it is killed; a later run on the same journal_dir
 * finds the upload in clips_resumed_uploads and waits for it to complete.
 *
 *   resume BASE_URL TOKEN JOURNAL_DIR FILE
 *
 * Prints "acked N" as blocks are acknowledged, "resumed N" when the journal held uploads, and
 * "clip id: <id>" when the upload completed; exits 0 then.
 */
#include <stdio.h>
#include <string.h>

#include "gameclips.h"

#if defined(_WIN32)
#include <windows.h>
static void sleep_ms(unsigned ms) { Sleep(ms); }
#else
#include <time.h>
static void sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}
#endif

static int fail(const char *what, ClipsResult result) {
    char message[512];
    size_t len = 0;
    clips_last_error_message(message, sizeof message, &len);
    fprintf(stderr, "%s: %s: %s\n", what, clips_result_name(result), message);
    return 1;
}

int main(int argc, char **argv) {
    ClipsClientOptions options;
    ClipsUploadOptions upload;
    ClipsStatus status;
    ClipsClient *client = NULL;
    ClipsHandle handle = 0;
    ClipsResult result;
    size_t resumed = 0, len = 0;
    uint32_t acked = 0;
    char clip_id[64];

    if (argc != 5) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN JOURNAL_DIR FILE\n", argv[0]);
        return 2;
    }
    clips_client_options_init(&options);
    options.metadata_base_url = argv[1];
    options.journal_dir = argv[3];
    result = clips_client_create(&options, &client);
    if (result != CLIPS_OK) return fail("clips_client_create", result);
    result = clips_set_authorization(client, argv[2]);
    if (result != CLIPS_OK) return fail("clips_set_authorization", result);

    result = clips_resumed_uploads(client, &handle, 1, &resumed);
    if (result != CLIPS_OK) return fail("clips_resumed_uploads", result);
    if (resumed > 0) {
        printf("resumed %u\n", (unsigned)resumed);
    } else {
        clips_upload_options_init(&upload);
        upload.scid = "00000000-0000-0000-0000-00006e7c2ab1";
        upload.file_path = argv[4];
        result = clips_begin_upload(client, &upload, &handle);
        if (result != CLIPS_OK) return fail("clips_begin_upload", result);
    }
    fflush(stdout);

    clips_status_init(&status);
    do {
        sleep_ms(10);
        result = clips_poll(client, handle, &status);
        if (result != CLIPS_OK) return fail("clips_poll", result);
        if (status.blocks_acked != acked) {
            acked = status.blocks_acked;
            printf("acked %u\n", acked);
            fflush(stdout);
        }
    } while (status.state != CLIPS_STATE_COMPLETED && status.state != CLIPS_STATE_FAILED &&
             status.state != CLIPS_STATE_CANCELLED);
    if (status.state != CLIPS_STATE_COMPLETED) {
        char message[512];
        clips_get_error_message(client, handle, message, sizeof message, &len);
        fprintf(stderr, "upload failed: %s\n", message);
        return 1;
    }
    if (clips_get_clip_id(client, handle, clip_id, sizeof clip_id, &len) != CLIPS_OK) return 1;
    printf("clip id: %s\n", clip_id);
    clips_release(client, handle);
    clips_client_destroy(client);
    return 0;
}

/* Paths as Windows games have them (tests/windows.rs): a drive letter, backslashes, spaces and non-ASCII
 * names, given to the library as UTF-8 in file_path, journal_dir and the thumbnail paths. The command line
 * reaches main() in the system's code page, not UTF-8, so the paths come percent-encoded and are decoded
 * here into the UTF-8 bytes a game would hand over.
 *
 *   paths BASE_URL TOKEN CLIP_PATH JOURNAL_DIR THUMBNAIL_PATH   (the paths percent-encoded UTF-8)
 *
 * Prints "clip id: <id>" and exits 0 when the upload completed.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* "%C3%A9" -> the byte 0xC3, then 0xA9; everything else as it is. The result is malloc'd. */
static char *percent_decode(const char *text) {
    size_t len = strlen(text), out = 0, i;
    char *decoded = malloc(len + 1);
    if (!decoded) return NULL;
    for (i = 0; i < len; i++) {
        unsigned value;
        if (text[i] == '%' && i + 2 < len && sscanf(text + i + 1, "%2x", &value) == 1) {
            decoded[out++] = (char)value;
            i += 2;
        } else {
            decoded[out++] = text[i];
        }
    }
    decoded[out] = '\0';
    return decoded;
}

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
    char clip_id[64];
    size_t len = 0;
    char *clip_path, *journal_dir, *thumbnail_path;

    if (argc != 6) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN CLIP_PATH JOURNAL_DIR THUMBNAIL_PATH\n", argv[0]);
        return 2;
    }
    clip_path = percent_decode(argv[3]);
    journal_dir = percent_decode(argv[4]);
    thumbnail_path = percent_decode(argv[5]);
    if (!clip_path || !journal_dir || !thumbnail_path) return 1;

    clips_client_options_init(&options);
    options.metadata_base_url = argv[1];
    options.journal_dir = journal_dir;
    result = clips_client_create(&options, &client);
    if (result != CLIPS_OK) return fail("clips_client_create", result);
    result = clips_set_authorization(client, argv[2]);
    if (result != CLIPS_OK) return fail("clips_set_authorization", result);

    clips_upload_options_init(&upload);
    upload.scid = "00000000-0000-0000-0000-00006e7c2ab1";
    upload.file_path = clip_path;
    upload.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
    upload.large_thumbnail_path = thumbnail_path;
    upload.small_thumbnail_path = thumbnail_path;
    result = clips_begin_upload(client, &upload, &handle);
    if (result != CLIPS_OK) return fail("clips_begin_upload", result);

    clips_status_init(&status);
    do {
        sleep_ms(10);
        result = clips_poll(client, handle, &status);
        if (result != CLIPS_OK) return fail("clips_poll", result);
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
    free(clip_path);
    free(journal_dir);
    free(thumbnail_path);
    return 0;
}

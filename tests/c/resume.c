/* A file upload with a journal, as a Windows game makes it (tests/windows.rs): crash and resume, and
 * paths with a drive letter, backslashes, spaces and non-ASCII names. The first run begins the upload and
 * prints each block acknowledged (it may be killed); a later run on the same journal_dir finds the upload
 * in clips_resumed_uploads and waits for it to complete. The command line reaches main() in the system's
 * code page, not UTF-8, so the paths come percent-encoded and are decoded here into the UTF-8 bytes a
 * game would hand over.
 *
 *   resume BASE_URL TOKEN JOURNAL_DIR FILE [THUMBNAIL]   (the paths percent-encoded UTF-8)
 *
 * Prints "acked N" as blocks are acknowledged, "resumed N" when the journal held uploads, and
 * "clip id: <id>" when the upload completed; exits 0 then.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gameclips.h"
#include "../../examples/c/example_support.h"

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
    char *journal_dir, *file, *thumbnail = NULL;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN JOURNAL_DIR FILE [THUMBNAIL]\n", argv[0]);
        return 2;
    }
    journal_dir = percent_decode(argv[3]);
    file = percent_decode(argv[4]);
    if (argc == 6) thumbnail = percent_decode(argv[5]);
    if (!journal_dir || !file || (argc == 6 && !thumbnail)) return 1;
    clips_client_options_init(&options);
    options.metadata_base_url = argv[1];
    options.journal_dir = journal_dir;
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
        upload.file_path = file;
        if (thumbnail) {
            upload.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
            upload.large_thumbnail_path = thumbnail;
            upload.small_thumbnail_path = thumbnail;
        }
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
    free(journal_dir);
    free(file);
    free(thumbnail);
    return 0;
}

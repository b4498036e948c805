/*
 * Upload one clip file with the gameclips C API: create a client, begin an upload in file mode,
 * pump events and poll the handle as a game loop would, then clean up.
 *
 *   upload_file METADATA_URL AUTHORIZATION FILE [SCID]
 *
 * Prints "clip id: <gameClipId>" on success and exits 0; prints the error and exits 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "gameclips.h"
#include "example_support.h"

int main(int argc, char **argv) {
    ClipsClientOptions options;
    ClipsUploadOptions upload;
    ClipsStatus status;
    ClipsEvent event;
    ClipsClient *client = NULL;
    ClipsHandle handle = 0;
    ClipsResult result;
    char clip_id[64];
    size_t len = 0;
    int exit_code = 1;

    if (argc < 4) {
        fprintf(stderr, "usage: %s METADATA_URL AUTHORIZATION FILE [SCID]\n", argv[0]);
        return 2;
    }
    if (clips_abi_version() != CLIPS_ABI_VERSION) {
        fprintf(stderr, "header and library disagree on the ABI version\n");
        return 1;
    }

    clips_client_options_init(&options);
    options.metadata_base_url = argv[1];
    result = clips_client_create(&options, &client);
    if (result != CLIPS_OK) return fail("clips_client_create", result);
    result = clips_set_authorization(client, argv[2]);
    if (result != CLIPS_OK) { fail("clips_set_authorization", result); goto done; }

    clips_upload_options_init(&upload);
    upload.scid = argc > 4 ? argv[4] : "00000000-0000-0000-0000-00006e7c2ab1";
    upload.file_path = argv[3];
    upload.duration_seconds = 30;
    upload.user_caption = "uploaded from C";
    upload.clip_types = CLIPS_CLIP_TYPE_DEVELOPER_INITIATED | CLIPS_CLIP_TYPE_ACHIEVEMENT;
    result = clips_begin_upload(client, &upload, &handle);
    if (result != CLIPS_OK) { fail("clips_begin_upload", result); goto done; }

    /* The game loop: drain events, poll the handle, render a frame. */
    clips_status_init(&status);
    clips_event_init(&event);
    for (;;) {
        while (clips_next_event(client, &event) == CLIPS_OK) {
            if (event.kind == CLIPS_EVENT_CLIP_CREATED) printf("clip created\n");
            if (event.kind == CLIPS_EVENT_NEEDS_AUTH) printf("the service wants a new token\n");
        }
        result = clips_poll(client, handle, &status);
        if (result != CLIPS_OK) { fail("clips_poll", result); goto done; }
        if (status.state == CLIPS_STATE_COMPLETED || status.state == CLIPS_STATE_FAILED ||
            status.state == CLIPS_STATE_CANCELLED) {
            break;
        }
        sleep_ms(10);
    }

    if (status.state == CLIPS_STATE_COMPLETED &&
        clips_get_clip_id(client, handle, clip_id, sizeof clip_id, &len) == CLIPS_OK) {
        printf("uploaded %llu bytes in %u blocks\nclip id: %s\n", (unsigned long long)status.bytes_acked,
               status.blocks_acked, clip_id);
        exit_code = 0;
    } else {
        char message[512];
        clips_get_error_message(client, handle, message, sizeof message, &len);
        fprintf(stderr, "upload failed: %s (HTTP %u): %s\n", clips_result_name(status.result), status.http_status,
                message);
    }
    clips_release(client, handle);
done:
    clips_client_destroy(client);
    return exit_code;
}

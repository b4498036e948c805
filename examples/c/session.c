/*
 * A whole session with the gameclips C API: upload a clip, wait until the service has published it,
 * change its caption, rate it, list the player's clips, then delete it.
 *
 *   session METADATA_URL AUTHORIZATION FILE [SCID]
 *
 * Every operation returns a handle at once and runs on the library's workers; the "game loop" here
 * pumps events and polls handles between frames. Prints each step; exits 0 when all succeeded.
 */
#include <stdio.h>
#include <string.h>

#include "gameclips.h"
#include "example_support.h"

static ClipsClient *client;

/* Why a step failed; 0, the step's result. */
static int report(const char *what, ClipsResult result) {
    print_error(what, result);
    return 0;
}

/* One frame of the game loop: drain the event queue (a real game would update its UI here). */
static void pump_events(void) {
    ClipsEvent event;
    clips_event_init(&event);
    while (clips_next_event(client, &event) == CLIPS_OK) {
        if (event.kind == CLIPS_EVENT_NEEDS_AUTH) printf("the service wants a new token\n");
    }
}

/* Polls a handle once per frame until it ends; returns 1 when it completed. */
static int finish(const char *what, ClipsHandle handle, ClipsStatus *status) {
    clips_status_init(status);
    for (;;) {
        ClipsResult result;
        pump_events();
        result = clips_poll(client, handle, status);
        if (result != CLIPS_OK) return report(what, result);
        if (status->state == CLIPS_STATE_COMPLETED) return 1;
        if (status->state == CLIPS_STATE_FAILED || status->state == CLIPS_STATE_CANCELLED) {
            char message[512];
            size_t len = 0;
            clips_get_error_message(client, handle, message, sizeof message, &len);
            fprintf(stderr, "%s failed: %s (HTTP %u): %s\n", what, clips_result_name(status->result),
                    status->http_status, message);
            return 0;
        }
        sleep_ms(10);
    }
}

/* Runs an operation that was just started (or reports why it could not start). The handle is passed
 * by address: C evaluates arguments in no set order, so its value is read only after the call that
 * started the operation has written it. */
static int run(const char *what, ClipsResult started, const ClipsHandle *op, ClipsStatus *status) {
    int ok;
    if (started != CLIPS_OK) return report(what, started);
    ok = finish(what, *op, status);
    if (ok) printf("%s: ok (HTTP %u)\n", what, status->http_status);
    return ok;
}

static int session(const char *file, const char *scid) {
    ClipsUploadOptions upload;
    ClipsMetadataUpdate update;
    ClipsClipInfo info;
    ClipsStatus status;
    ClipsHandle handle = 0, op = 0;
    char clip_id[64], json[16384];
    size_t len = 0;
    int attempts;

    clips_upload_options_init(&upload);
    upload.scid = scid;
    upload.file_path = file;
    upload.duration_seconds = 12;
    upload.user_caption = "first try";
    if (!run("upload", clips_begin_upload(client, &upload, &handle), &handle, &status)) return 0;
    clips_get_clip_id(client, handle, clip_id, sizeof clip_id, &len);
    clips_release(client, handle);
    printf("clip id: %s (%llu bytes)\n", clip_id, (unsigned long long)status.bytes_acked);

    /* The service processes the clip after the upload; ask now and then until it is published. */
    clips_clip_info_init(&info);
    for (attempts = 0; attempts < 100; attempts++) {
        if (!run("get", clips_get_clip(client, NULL, scid, clip_id, &op), &op, &status)) return 0;
        clips_get_clip_info(client, op, &info);
        clips_release(client, op);
        if (info.state == CLIPS_CLIP_STATE_PUBLISHED || info.state == CLIPS_CLIP_STATE_ERROR) break;
        sleep_ms(100);
    }
    if (info.state != CLIPS_CLIP_STATE_PUBLISHED) {
        fprintf(stderr, "the clip was not published (state %u)\n", info.state);
        return 0;
    }
    printf("published\n");

    clips_metadata_update_init(&update);
    update.user_caption = "my best jump";
    update.visibility = CLIPS_VISIBILITY_PUBLIC;
    if (!run("update caption", clips_update_metadata(client, scid, clip_id, &update, &op), &op, &status)) return 0;
    clips_release(client, op);

    if (!run("rate", clips_rate_clip(client, NULL, scid, clip_id, 5, &op), &op, &status)) return 0;
    clips_release(client, op);

    if (!run("list", clips_list_clips(client, NULL, scid, 10, NULL, &op), &op, &status)) return 0;
    if (clips_get_result_json(client, op, json, sizeof json, &len) != CLIPS_OK) return report("list result", -1);
    clips_release(client, op);
    printf("listed: %s\n", strstr(json, "my best jump") ? "the clip, with its new caption" : "without the clip");
    if (!strstr(json, clip_id)) return 0;

    if (!run("get", clips_get_clip(client, NULL, scid, clip_id, &op), &op, &status)) return 0;
    clips_get_clip_info(client, op, &info);
    clips_release(client, op);
    printf("rating %.1f from %u ratings\n", info.rating, info.rating_count);

    if (!run("delete", clips_delete_clip(client, scid, clip_id, &op), &op, &status)) return 0;
    clips_release(client, op);
    if (clips_get_clip(client, NULL, scid, clip_id, &op) != CLIPS_OK) return report("get after delete", -1);
    finish("get after delete", op, &status);
    clips_release(client, op);
    printf("after delete: HTTP %u\n", status.http_status);
    return status.http_status == 404;
}

int main(int argc, char **argv) {
    ClipsClientOptions options;
    ClipsResult result;
    int ok;

    if (argc < 4) {
        fprintf(stderr, "usage: %s METADATA_URL AUTHORIZATION FILE [SCID]\n", argv[0]);
        return 2;
    }
    clips_client_options_init(&options);
    options.metadata_base_url = argv[1];
    result = clips_client_create(&options, &client);
    if (result != CLIPS_OK) return report("clips_client_create", result), 1;
    result = clips_set_authorization(client, argv[2]);
    ok = result == CLIPS_OK ? session(argv[3], argc > 4 ? argv[4] : "00000000-0000-0000-0000-00006e7c2ab1")
                            : report("clips_set_authorization", result);
    clips_client_destroy(client);
    printf("%s\n", ok ? "session complete" : "session failed");
    return ok ? 0 : 1;
}

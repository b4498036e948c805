/* Calls every exported function of the library with valid and invalid arguments, against a running
 * emulator. Built by tests/memory_safety.rs with -fsanitize=address,undefined and also run under
 * valgrind memcheck: both must report nothing. Exits 0 when every check held.
 *
 * usage: abi_harness BASE_URL TOKEN WORK_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gameclips.h"

#define SCID "00000000-0000-0000-0000-00006e7c2ab1"

static int failures = 0;
static int checks = 0;

#define EXPECT(call, expected)                                                                            \
    do {                                                                                                  \
        ClipsResult got_ = (call);                                                                        \
        checks++;                                                                                         \
        if (got_ != (expected)) {                                                                         \
            char why_[512];                                                                               \
            size_t len_ = 0;                                                                              \
            clips_last_error_message(why_, sizeof why_, &len_);                                           \
            fprintf(stderr, "line %d: %s returned %s, expected %s (%s)\n", __LINE__, #call,              \
                    clips_result_name(got_), clips_result_name(expected), why_);                          \
            failures++;                                                                                   \
        }                                                                                                 \
    } while (0)

#define REQUIRE(condition)                                                                                \
    do {                                                                                                  \
        checks++;                                                                                         \
        if (!(condition)) {                                                                               \
            fprintf(stderr, "line %d: %s does not hold\n", __LINE__, #condition);                        \
            failures++;                                                                                   \
        }                                                                                                 \
    } while (0)

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int terminal(uint32_t state) {
    return state == CLIPS_STATE_COMPLETED || state == CLIPS_STATE_FAILED || state == CLIPS_STATE_CANCELLED;
}

/* Polls until the handle ends (at most 60 s) and returns its final status. */
static ClipsStatus wait_end(ClipsClient *c, ClipsHandle h) {
    ClipsStatus s;
    clips_status_init(&s);
    for (int i = 0; i < 6000; i++) {
        if (clips_poll(c, h, &s) != CLIPS_OK || terminal(s.state)) break;
        sleep_ms(10);
    }
    return s;
}

static void drain_events(ClipsClient *c) {
    ClipsEvent e;
    clips_event_init(&e);
    while (clips_next_event(c, &e) == CLIPS_OK) {
        REQUIRE(e.kind >= CLIPS_EVENT_CLIP_CREATED && e.kind <= CLIPS_EVENT_OP_COMPLETED);
    }
}

static void globals(void) {
    REQUIRE(clips_abi_version() == CLIPS_ABI_VERSION);
    REQUIRE(strlen(clips_version_string()) > 0);
    for (int r = -200; r <= 200; r++) REQUIRE(clips_result_name(r) != NULL);
    REQUIRE(strcmp(clips_result_name(CLIPS_E_HTTP), "CLIPS_E_HTTP") == 0);
    REQUIRE(clips_result_name(INT32_MIN) != NULL && clips_result_name(INT32_MAX) != NULL);

    char small[4];
    size_t len = 0;
    EXPECT(clips_client_create(NULL, NULL), CLIPS_E_INVALID_ARGUMENT); /* leaves an error message */
    EXPECT(clips_last_error_message(NULL, 0, &len), CLIPS_E_BUFFER_TOO_SMALL);
    REQUIRE(len > sizeof small);
    EXPECT(clips_last_error_message(small, sizeof small, &len), CLIPS_E_BUFFER_TOO_SMALL);
    EXPECT(clips_last_error_message(small, sizeof small, NULL), CLIPS_E_INVALID_ARGUMENT);
    char *exact = malloc(len);
    EXPECT(clips_last_error_message(exact, len, &len), CLIPS_OK);
    REQUIRE(exact[len - 1] == '\0');
    free(exact);

    /* The init functions ignore NULL (the parentheses call the functions, not the header's macros). */
    (clips_client_options_init)(NULL);
    (clips_upload_options_init)(NULL);
    (clips_status_init)(NULL);
    (clips_event_init)(NULL);
    (clips_metadata_update_init)(NULL);
    (clips_clip_info_init)(NULL);

    /* Their sized forms refuse NULL and sizes that are no version's, writing nothing; a struct from a
       newer header (larger) gets this library's fields, zeros, and its own size, which calls refuse. */
    EXPECT(clips_client_options_init_sized(NULL, sizeof(ClipsClientOptions)), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_upload_options_init_sized(NULL, sizeof(ClipsUploadOptions)), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_status_init_sized(NULL, sizeof(ClipsStatus)), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_event_init_sized(NULL, sizeof(ClipsEvent)), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_metadata_update_init_sized(NULL, sizeof(ClipsMetadataUpdate)), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_clip_info_init_sized(NULL, sizeof(ClipsClipInfo)), CLIPS_E_INVALID_ARGUMENT);
    unsigned char *tiny = malloc(3); /* exactly 3 bytes: ASan and valgrind see any write past them */
    EXPECT(clips_client_options_init_sized((ClipsClientOptions *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_upload_options_init_sized((ClipsUploadOptions *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_status_init_sized((ClipsStatus *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_event_init_sized((ClipsEvent *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_metadata_update_init_sized((ClipsMetadataUpdate *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_clip_info_init_sized((ClipsClipInfo *)(void *)tiny, 3), CLIPS_E_INVALID_ARGUMENT);
    free(tiny);
    /* An older header's status ended after `retries`: only those bytes are written. */
    size_t old_status = offsetof(ClipsStatus, retry_in_ms);
    ClipsStatus *older = malloc(old_status);
    EXPECT(clips_status_init_sized(older, old_status), CLIPS_OK);
    REQUIRE(older->struct_size == old_status);
    free(older);
    size_t newer_size = sizeof(ClipsEvent) + 16;
    ClipsEvent *newer = malloc(newer_size);
    EXPECT(clips_event_init_sized(newer, newer_size), CLIPS_E_INCOMPATIBLE_VERSION);
    REQUIRE(newer->struct_size == newer_size);
    free(newer);
}

static ClipsClient *create_client(const char *url, const char *token) {
    ClipsClientOptions o;
    clips_client_options_init(&o);
    ClipsClient *c = NULL;

    EXPECT(clips_client_create(&o, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_client_create(NULL, &c), CLIPS_E_INVALID_ARGUMENT);
    o.struct_size = (uint32_t)sizeof o + 8;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INCOMPATIBLE_VERSION);
    o.struct_size = 2; /* no version of the struct is this small */
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    clips_client_options_init(&o);
    o.metadata_base_url = "http:\xff\xfe//bad-utf8";
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    o.metadata_base_url = "http://gameclips.example.com";
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT); /* plain http, not loopback */
    o.metadata_base_url = url;
    o.flags = 0x80;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    o.flags = 0;
    o.block_size = 100;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    o.block_size = 0;
    o.upload_hosts = "*";
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    o.upload_hosts = NULL;
    o.log_level = 99;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT);
    REQUIRE(c == NULL); /* outputs are written only on success */

    clips_client_options_init(&o);
    o.metadata_base_url = url;
    o.worker_threads = 2;
    o.request_timeout_ms = 5000;
    EXPECT(clips_client_create(&o, &c), CLIPS_OK);

    EXPECT(clips_set_authorization(NULL, token), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_authorization(c, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_authorization(c, "XBL3.0 \xc3\x28"), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_authorization(c, "line\nbreak"), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_authorization(c, token), CLIPS_OK);
    EXPECT(clips_pause(NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_resume(NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_bandwidth_limit(NULL, 0), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_pause(c), CLIPS_OK);
    EXPECT(clips_resume(c), CLIPS_OK);
    EXPECT(clips_set_bandwidth_limit(c, 1u << 30), CLIPS_OK);
    EXPECT(clips_set_bandwidth_limit(c, 0), CLIPS_OK);
    EXPECT(clips_suspend(NULL, 10), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_network_status(NULL, CLIPS_NETWORK_ONLINE), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_set_network_status(c, 99), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_suspend(c, 0), CLIPS_OK); /* nothing in flight: returns at once */
    EXPECT(clips_resume(c), CLIPS_OK);
    EXPECT(clips_set_network_status(c, CLIPS_NETWORK_OFFLINE), CLIPS_OK);
    EXPECT(clips_set_network_status(c, CLIPS_NETWORK_ONLINE), CLIPS_OK);
    return c;
}

static void handle_queries_refuse_bad_arguments(ClipsClient *c, ClipsHandle h) {
    ClipsStatus s;
    clips_status_init(&s);
    char buf[8];
    size_t len = 0;
    EXPECT(clips_poll(NULL, h, &s), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_poll(c, h, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_poll(c, 0, &s), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_poll(c, h ^ 0x5a5a000000000000ull, &s), CLIPS_E_INVALID_HANDLE);
    s.struct_size = 0xffff;
    EXPECT(clips_poll(c, h, &s), CLIPS_E_INCOMPATIBLE_VERSION);
    clips_status_init(&s);
    EXPECT(clips_get_error_message(c, h, buf, sizeof buf, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_get_error_message(c, 0, buf, sizeof buf, &len), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_get_result_json(c, h, NULL, 0, NULL), CLIPS_E_WRONG_STATE); /* an upload has no result JSON */
    EXPECT(clips_get_clip_info(c, h, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_cancel(NULL, h), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_cancel(c, 0), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_release(NULL, h), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_release(c, 0), CLIPS_E_INVALID_HANDLE);
}

/* A file-mode upload; returns the clip id in `id`. */
static void file_upload(ClipsClient *c, const char *path, char *id, size_t id_cap) {
    ClipsUploadOptions o;
    clips_upload_options_init(&o);
    ClipsHandle h = 0;
    EXPECT(clips_begin_upload(c, NULL, &h), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT); /* no scid */
    o.scid = SCID;
    EXPECT(clips_begin_upload(c, &o, NULL), CLIPS_E_INVALID_ARGUMENT);
    o.visibility = 77;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT);
    o.visibility = 0;
    o.source = 1000;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT);
    o.source = 0;
    o.user_caption = "\xff\xff";
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT);
    o.user_caption = "harness";
    o.users_in_session = NULL;
    o.users_in_session_count = 3;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT);
    o.users_in_session_count = 0;
    o.thumbnail_source = 99;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT);
    o.thumbnail_source = 0;
    REQUIRE(h == 0);

    o.file_path = path;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_OK);
    handle_queries_refuse_bad_arguments(c, h);
    EXPECT(clips_push_block(c, h, 0, (const uint8_t *)"x", 1), CLIPS_E_WRONG_STATE); /* file mode */
    ClipsStatus s = wait_end(c, h);
    REQUIRE(s.state == CLIPS_STATE_COMPLETED);
    REQUIRE(s.result == CLIPS_OK);

    size_t len = 0;
    char tiny[2];
    EXPECT(clips_get_clip_id(c, h, NULL, 0, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_get_clip_id(c, h, tiny, sizeof tiny, &len), CLIPS_E_BUFFER_TOO_SMALL);
    REQUIRE(len > sizeof tiny);
    EXPECT(clips_get_clip_id(c, h, id, id_cap, &len), CLIPS_OK);
    char message[64];
    EXPECT(clips_get_error_message(c, h, message, sizeof message, &len), CLIPS_OK);
    REQUIRE(len == 1);
    EXPECT(clips_cancel(c, h), CLIPS_E_WRONG_STATE);
    EXPECT(clips_release(c, h), CLIPS_OK);
    EXPECT(clips_release(c, h), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_poll(c, h, &s), CLIPS_E_INVALID_HANDLE);
}

static void push_upload(ClipsClient *c, char *id, size_t id_cap) {
    const size_t size = CLIPS_DEFAULT_BLOCK_SIZE + 1000;
    uint8_t *data = malloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (uint8_t)(i * 7 + 3);

    ClipsUploadOptions o;
    clips_upload_options_init(&o);
    o.scid = SCID;
    o.file_size = 0;
    ClipsHandle h = 0;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_E_INVALID_ARGUMENT); /* push mode needs a size */
    o.file_size = size;
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_OK);

    uint32_t missing[4];
    size_t count = 0;
    EXPECT(clips_missing_blocks(c, h, missing, 4, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_missing_blocks(c, h, missing, 1, &count), CLIPS_E_BUFFER_TOO_SMALL);
    REQUIRE(count == 2);
    EXPECT(clips_missing_blocks(c, h, missing, 4, &count), CLIPS_OK);
    REQUIRE(count == 2 && missing[0] == 0 && missing[1] == 1);

    EXPECT(clips_push_block(c, h, 0, NULL, CLIPS_DEFAULT_BLOCK_SIZE), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_push_block(c, h, 0, data, CLIPS_MAX_BLOCK_SIZE + 1), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_push_block(c, h, 0, data, 10), CLIPS_E_INVALID_ARGUMENT); /* not the block's length */
    EXPECT(clips_push_block(c, h, 2, data, 1000), CLIPS_E_INVALID_ARGUMENT); /* no such block */
    EXPECT(clips_push_block(c, h, UINT32_MAX, data, 1), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_push_block(c, 0, 0, data, CLIPS_MAX_BLOCK_SIZE), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_push_block(NULL, h, 0, data, CLIPS_MAX_BLOCK_SIZE), CLIPS_E_INVALID_ARGUMENT);

    uint32_t sizes[2] = {CLIPS_DEFAULT_BLOCK_SIZE, 1000};
    for (uint32_t b = 0; b < 2; b++) {
        ClipsResult r;
        while ((r = clips_push_block(c, h, b, data + (size_t)b * CLIPS_DEFAULT_BLOCK_SIZE, sizes[b])) ==
               CLIPS_E_WOULD_BLOCK)
            sleep_ms(5);
        EXPECT(r, CLIPS_OK);
    }
    /* The caller's buffer is free to go at once: the library copied it. */
    memset(data, 0xee, size);
    free(data);
    ClipsStatus s = wait_end(c, h);
    REQUIRE(s.state == CLIPS_STATE_COMPLETED);
    EXPECT(clips_get_clip_id(c, h, id, id_cap, &count), CLIPS_OK);
    EXPECT(clips_release(c, h), CLIPS_OK);

    /* A cancelled push upload. */
    EXPECT(clips_begin_upload(c, &o, &h), CLIPS_OK);
    EXPECT(clips_cancel(c, h), CLIPS_OK);
    s = wait_end(c, h);
    REQUIRE(s.state == CLIPS_STATE_CANCELLED && s.result == CLIPS_E_CANCELLED);
    EXPECT(clips_release(c, h), CLIPS_OK);

    ClipsHandle resumed[4];
    EXPECT(clips_resumed_uploads(c, resumed, 4, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_resumed_uploads(NULL, resumed, 4, &count), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_resumed_uploads(c, resumed, 4, &count), CLIPS_OK);
    REQUIRE(count == 0);
}

/* Runs `op` to its end and releases it; returns the final result. */
static ClipsResult finish_op(ClipsClient *c, ClipsHandle op, char *json, size_t json_cap) {
    ClipsStatus s = wait_end(c, op);
    size_t len = 0;
    if (json != NULL && s.result == CLIPS_OK) {
        EXPECT(clips_get_result_json(c, op, NULL, 0, &len), CLIPS_E_BUFFER_TOO_SMALL);
        EXPECT(clips_get_result_json(c, op, json, json_cap, &len), len <= json_cap ? CLIPS_OK : CLIPS_E_BUFFER_TOO_SMALL);
    }
    EXPECT(clips_release(c, op), CLIPS_OK);
    return s.result;
}

static void operations(ClipsClient *c, const char *id, const char *pushed_id, const char *work_dir) {
    ClipsHandle op = 0;
    char json[16384];

    ClipsMetadataUpdate m;
    clips_metadata_update_init(&m);
    EXPECT(clips_update_metadata(c, SCID, id, NULL, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_update_metadata(c, NULL, id, &m, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_update_metadata(c, SCID, NULL, &m, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_update_metadata(c, SCID, id, &m, NULL), CLIPS_E_INVALID_ARGUMENT);
    m.visibility = 1234;
    EXPECT(clips_update_metadata(c, SCID, id, &m, &op), CLIPS_E_INVALID_ARGUMENT);
    m.visibility = 0;
    m.user_caption = "from the harness";
    EXPECT(clips_update_metadata(c, SCID, id, &m, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_OK);

    EXPECT(clips_rate_clip(c, NULL, SCID, id, 0, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_rate_clip(c, NULL, SCID, id, 6, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_rate_clip(c, "not-a-xuid", SCID, id, 3, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_rate_clip(c, NULL, "../../etc", id, 3, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_rate_clip(c, NULL, SCID, id, 4, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_OK);

    EXPECT(clips_record_view(c, NULL, SCID, NULL, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_record_view(c, NULL, SCID, id, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_OK);

    EXPECT(clips_get_clip(c, NULL, SCID, "", &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_get_clip(c, NULL, SCID, id, &op), CLIPS_OK);
    wait_end(c, op);
    ClipsClipInfo info;
    clips_clip_info_init(&info);
    EXPECT(clips_get_clip_info(c, op, &info), CLIPS_OK);
    REQUIRE(strcmp(info.game_clip_id, id) == 0);
    info.struct_size = 1 << 20;
    EXPECT(clips_get_clip_info(c, op, &info), CLIPS_E_INCOMPATIBLE_VERSION);
    EXPECT(finish_op(c, op, json, sizeof json), CLIPS_OK);
    REQUIRE(strstr(json, "from the harness") != NULL);

    EXPECT(clips_list_clips(c, NULL, SCID, 0, NULL, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_list_clips(c, NULL, SCID, 2, "", &op), CLIPS_OK);
    EXPECT(finish_op(c, op, json, sizeof json), CLIPS_OK);
    /* A result JSON into a buffer too small: an error, nothing written past it. */
    EXPECT(clips_list_clips(c, NULL, SCID, 2, NULL, &op), CLIPS_OK);
    wait_end(c, op);
    char small[16];
    size_t len = 0;
    EXPECT(clips_get_result_json(c, op, small, sizeof small, &len), CLIPS_E_BUFFER_TOO_SMALL);
    REQUIRE(len > sizeof small);
    EXPECT(clips_get_clip_id(c, op, small, sizeof small, &len), CLIPS_E_WRONG_STATE);
    EXPECT(clips_release(c, op), CLIPS_OK);

    char destination[1024];
    snprintf(destination, sizeof destination, "%s/downloaded.mp4", work_dir);
    EXPECT(clips_download_clip(c, NULL, SCID, id, NULL, &op), CLIPS_E_INVALID_ARGUMENT);
    /* Until the service has processed the clip, a download is refused (CLIPS_E_WRONG_STATE or a 409). */
    ClipsResult downloaded = CLIPS_E_WRONG_STATE;
    for (int attempt = 0; attempt < 100 && (downloaded == CLIPS_E_WRONG_STATE || downloaded == CLIPS_E_HTTP);
         attempt++) {
        EXPECT(clips_download_clip(c, NULL, SCID, id, destination, &op), CLIPS_OK);
        downloaded = finish_op(c, op, NULL, 0);
        if (downloaded != CLIPS_OK) sleep_ms(50);
    }
    if (downloaded != CLIPS_OK) fprintf(stderr, "download: %s\n", clips_result_name(downloaded));
    REQUIRE(downloaded == CLIPS_OK);
    FILE *copy = fopen(destination, "rb");
    REQUIRE(copy != NULL);
    if (copy != NULL) {
        fseek(copy, 0, SEEK_END);
        REQUIRE(ftell(copy) == 3L * 1024 * 1024 + 333);
        fclose(copy);
    }

    EXPECT(clips_flag_clip(c, NULL, NULL, pushed_id, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_flag_clip(c, NULL, SCID, pushed_id, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_OK);

    EXPECT(clips_delete_clip(c, SCID, NULL, &op), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_delete_clip(c, SCID, id, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_OK);
    EXPECT(clips_get_clip(c, NULL, SCID, id, &op), CLIPS_OK);
    EXPECT(finish_op(c, op, NULL, 0), CLIPS_E_HTTP); /* 404 after delete */

    ClipsEvent e;
    clips_event_init(&e);
    EXPECT(clips_next_event(c, NULL), CLIPS_E_INVALID_ARGUMENT);
    EXPECT(clips_next_event(NULL, &e), CLIPS_E_INVALID_ARGUMENT);
    e.struct_size = 1;
    EXPECT(clips_next_event(c, &e), CLIPS_E_INVALID_ARGUMENT);
    e.struct_size = 1 << 20;
    EXPECT(clips_next_event(c, &e), CLIPS_E_INCOMPATIBLE_VERSION);
    drain_events(c);
}

static ClipsResult never_send(void *user, ClipsExchange *x, const ClipsHttpRequest *request) {
    (void)user;
    (void)x;
    (void)request;
    return CLIPS_E_INTERNAL;
}

/* The title's transport: incomplete transports are refused at create; dead exchanges everywhere. */
static void transport_refusals(const char *url) {
    ClipsTransport t;
    memset(&t, 0, sizeof t);
    ClipsClientOptions o;
    clips_client_options_init(&o);
    o.metadata_base_url = url;
    o.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP;
    o.transport = &t;
    ClipsClient *c = NULL;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT); /* struct_size 0 */
    t.struct_size = sizeof t;
    t.send = never_send;
    EXPECT(clips_client_create(&o, &c), CLIPS_E_INVALID_ARGUMENT); /* no cancel */
    REQUIRE(c == NULL);
    uint8_t byte = 1;
    EXPECT(clips_exchange_set_status(NULL, 200), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_exchange_add_header(NULL, "Retry-After", "1"), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_exchange_write_body(NULL, &byte, 1), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_exchange_complete(NULL, CLIPS_TRANSPORT_FAILED, NULL), CLIPS_E_INVALID_HANDLE);
    EXPECT(clips_exchange_complete((ClipsExchange *)&byte, CLIPS_TRANSPORT_FAILED, NULL), CLIPS_E_INVALID_HANDLE);
}

static void *refuse_alloc(void *user, size_t size, size_t align) {
    (void)user;
    (void)size;
    (void)align;
    return NULL;
}

static void ignore_free(void *user, void *ptr, size_t size, size_t align) {
    (void)user;
    (void)ptr;
    (void)size;
    (void)align;
}

/* Memory hooks after other calls are refused (this harness has made many by now). */
static void memory_hook_refusals(void) {
    ClipsMemoryHooks hooks;
    memset(&hooks, 0, sizeof hooks);
    EXPECT(clips_set_memory_hooks(NULL), CLIPS_E_INVALID_ARGUMENT);
    hooks.struct_size = sizeof hooks;
    hooks.alloc = refuse_alloc;
    EXPECT(clips_set_memory_hooks(&hooks), CLIPS_E_INVALID_ARGUMENT); /* no free */
    hooks.free = ignore_free;
    EXPECT(clips_set_memory_hooks(&hooks), CLIPS_E_WRONG_STATE);
    clips_release_thread_memory();
    clips_release_thread_memory();
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN WORK_DIR\n", argv[0]);
        return 2;
    }
    const char *url = argv[1], *token = argv[2], *work_dir = argv[3];

    char path[1024];
    snprintf(path, sizeof path, "%s/harness-clip.mp4", work_dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 2;
    for (size_t i = 0; i < 3u * 1024 * 1024 + 333; i++) fputc((int)(i * 31 % 251), f);
    fclose(f);

    globals();
    transport_refusals(url);
    memory_hook_refusals();
    ClipsClient *c = create_client(url, token);
    char id[CLIPS_CLIP_ID_CAPACITY] = "";
    file_upload(c, path, id, sizeof id);
    char pushed_id[CLIPS_CLIP_ID_CAPACITY] = "";
    push_upload(c, pushed_id, sizeof pushed_id);
    operations(c, id, pushed_id, work_dir);
    drain_events(c);

    clips_client_destroy(NULL);
    clips_client_destroy(c);
    /* Calls after destroy are refused (the pointer is looked up, never dereferenced). */
    ClipsStatus s;
    clips_status_init(&s);
    EXPECT(clips_poll(c, 1, &s), CLIPS_E_SHUTDOWN);
    EXPECT(clips_pause(c), CLIPS_E_SHUTDOWN);
    EXPECT(clips_suspend(c, 0), CLIPS_E_SHUTDOWN);
    EXPECT(clips_set_network_status(c, CLIPS_NETWORK_ONLINE), CLIPS_E_SHUTDOWN);

    printf("abi harness: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}

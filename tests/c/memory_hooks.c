/* The title's allocator under gameclips (tests/memory_hooks.rs): counting hooks set before anything else,
 * with no realloc (the library then allocates, copies and frees). Each block carries a header with the
 * size and alignment it was asked for, so a free with other values is caught.
 *
 *   memory_hooks BASE_URL TOKEN
 *
 * Prints `key value` lines; exits 0 when every check held.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gameclips.h"
#include "harness.h"

#define BLOCK (64 * 1024)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static size_t allocations = 0, frees = 0, live_bytes = 0, misaligned = 0, bad_align = 0, mismatched_frees = 0;
static size_t max_align = 0;
static size_t refuse_at_least = (size_t)-1; /* allocations this big or bigger fail (an out-of-memory title) */

typedef struct header {
    size_t size, align, offset;
} header;

static size_t room_for_header(size_t align) {
    size_t room = sizeof(header);
    return (room + align - 1) / align * align;
}

static void *hook_alloc(void *user, size_t size, size_t align) {
    (void)user;
    if (align == 0 || (align & (align - 1)) != 0) {
        pthread_mutex_lock(&lock);
        bad_align++;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    if (size >= refuse_at_least) return NULL;
    size_t room = room_for_header(align < sizeof(void *) ? sizeof(void *) : align);
    size_t base_align = align < sizeof(void *) ? sizeof(void *) : align;
    void *base = NULL;
#if defined(_WIN32)
    base = _aligned_malloc(room + size, base_align);
    if (!base) return NULL;
#else
    if (posix_memalign(&base, base_align, room + size) != 0) return NULL;
#endif
    uint8_t *p = (uint8_t *)base + room;
    header h = {size, align, room};
    memcpy(p - sizeof h, &h, sizeof h);
    pthread_mutex_lock(&lock);
    allocations++;
    live_bytes += size;
    if ((uintptr_t)p % align != 0) misaligned++;
    if (align > max_align) max_align = align;
    pthread_mutex_unlock(&lock);
    return p;
}

static void hook_free(void *user, void *ptr, size_t size, size_t align) {
    (void)user;
    if (!ptr) return;
    header h;
    memcpy(&h, (uint8_t *)ptr - sizeof h, sizeof h);
    pthread_mutex_lock(&lock);
    frees++;
    live_bytes -= h.size;
    if (h.size != size || h.align != align) mismatched_frees++;
    pthread_mutex_unlock(&lock);
#if defined(_WIN32)
    _aligned_free((uint8_t *)ptr - h.offset);
#else
    free((uint8_t *)ptr - h.offset);
#endif
}

static size_t live(void) {
    pthread_mutex_lock(&lock);
    size_t bytes = live_bytes;
    pthread_mutex_unlock(&lock);
    return bytes;
}

static ClipsClient *make_client(const char *base, const char *token) {
    ClipsClientOptions o;
    clips_client_options_init(&o);
    o.metadata_base_url = base;
    o.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP;
    o.block_size = BLOCK;
    o.worker_threads = 4;
    ClipsClient *c = NULL;
    CHECK(clips_client_create(&o, &c) == CLIPS_OK);
    CHECK(clips_set_authorization(c, token) == CLIPS_OK);
    return c;
}

/* A push-mode upload of three blocks, to its end. */
static void upload(ClipsClient *c, const uint8_t *bytes, size_t size) {
    ClipsHandle h = begin_upload(c, NULL, size);
    uint32_t next = 0, blocks = (uint32_t)((size + BLOCK - 1) / BLOCK);
    ClipsStatus s;
    clips_status_init(&s);
    for (int i = 0; i < 6000; i++) {
        while (next < blocks) {
            size_t off = (size_t)next * BLOCK, len = size - off < BLOCK ? size - off : BLOCK;
            if (clips_push_block(c, h, next, bytes + off, len) != CLIPS_OK) break;
            next++;
        }
        clips_poll(c, h, &s);
        if (s.state == CLIPS_STATE_COMPLETED || s.state == CLIPS_STATE_FAILED) break;
        sleep_ms(5);
    }
    CHECK(s.state == CLIPS_STATE_COMPLETED);
    CHECK(clips_release(c, h) == CLIPS_OK);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: memory_hooks BASE_URL TOKEN\n");
        return 2;
    }
    ClipsMemoryHooks hooks;
    memset(&hooks, 0, sizeof hooks);
    hooks.struct_size = sizeof hooks;
    hooks.alloc = hook_alloc;
    hooks.realloc = NULL;
    hooks.free = hook_free;
    CHECK(clips_set_memory_hooks(&hooks) == CLIPS_OK);

    static uint8_t clip[3 * BLOCK - 100];
    for (size_t i = 0; i < sizeof clip; i++) clip[i] = (uint8_t)(i * 7 + 3);
    for (int cycle = 1; cycle <= 6; cycle++) {
        ClipsClient *c = make_client(argv[1], argv[2]);
        upload(c, clip, sizeof clip);
        clips_client_destroy(c);
        clips_release_thread_memory();
        printf("live_after_cycle_%d %zu\n", cycle, live());
    }

    /* Hooks set late are refused. */
    ClipsResult late = clips_set_memory_hooks(&hooks);
    printf("late_set %s\n", clips_result_name(late));

    /* No memory for a block's copy: the push fails with a code, nothing aborts, and it works again after. */
    ClipsClient *c = make_client(argv[1], argv[2]);
    ClipsUploadOptions u;
    clips_upload_options_init(&u);
    u.scid = SCID;
    u.file_size = sizeof clip;
    ClipsHandle h = 0;
    CHECK(clips_begin_upload(c, &u, &h) == CLIPS_OK);
    pthread_mutex_lock(&lock);
    refuse_at_least = BLOCK;
    pthread_mutex_unlock(&lock);
    ClipsResult oom = clips_push_block(c, h, 0, clip, BLOCK);
    pthread_mutex_lock(&lock);
    refuse_at_least = (size_t)-1;
    pthread_mutex_unlock(&lock);
    char why[512];
    size_t len = 0;
    clips_last_error_message(why, sizeof why, &len);
    printf("oom_push %s %s\n", clips_result_name(oom), why);
    CHECK(clips_push_block(c, h, 0, clip, BLOCK) == CLIPS_OK);
    CHECK(clips_cancel(c, h) == CLIPS_OK);
    clips_client_destroy(c);
    clips_release_thread_memory();

    printf("allocations %zu\nfrees %zu\nmisaligned %zu\nbad_align %zu\nmismatched_frees %zu\nmax_align %zu\n",
           allocations, frees, misaligned, bad_align, mismatched_frees, max_align);
    printf("failures %d\n", failures);
    return failures == 0 ? 0 : 1;
}

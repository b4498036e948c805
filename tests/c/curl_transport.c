/* A title's HTTP stack for gameclips, the way a console title plugs in xCurl: a ClipsTransport over
 * libcurl's multi interface on a thread of its own. tests/title_transport.rs runs it in several modes:
 *
 *   session   BASE TOKEN DIR FILE  a file-mode and a push-mode upload of FILE, then get, update and list,
 *                                  all through the transport, at a capacity of 2
 *   builtin   BASE TOKEN DIR       a get with the built-in transport (shows the connect() check works)
 *   never     BASE TOKEN DIR       a transport that never answers and ignores cancel: gameclips cancels at
 *                                  its deadline, destroy returns in time, and the exchanges are completed
 *                                  after destroy (run under ASan and valgrind)
 *   redirect  BASE TOKEN DIR FILE  every block answered with a redirect to a foreign host
 *
 * It prints `key value` lines for the test to check. connect() is interposed: any TCP connection made
 * by a thread other than the transport's is counted (the library must open none of its own).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>

#include "gameclips.h"
#include "harness.h"

#define FOREIGN_HOST "198.51.100.7"

enum mode { SESSION, BUILTIN, NEVER, REDIRECT };

typedef struct transfer {
    ClipsExchange *x;
    CURL *easy;
    struct curl_slist *headers;
    int cancel_asked;
    struct transfer *next;
} transfer;

static struct {
    enum mode mode;
    unsigned capacity;
    pthread_mutex_t lock;
    pthread_t thread;
    int thread_started;
    int stop;
    CURLM *multi;
    transfer *queued;  /* sent, not yet handed to the multi handle */
    transfer *active;  /* in the multi handle */
    ClipsExchange *held[256]; /* NEVER mode: exchanges never answered */
    unsigned held_count;
    unsigned in_flight, max_in_flight, would_blocks, sends, cancels;
    unsigned foreign_urls; /* requests the library asked for on FOREIGN_HOST */
} t = {SESSION, 2, PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, NULL, NULL, NULL, {NULL}, 0, 0, 0, 0, 0, 0, 0};

static pthread_mutex_t connect_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned foreign_connects = 0;

static int on_transport_thread(void) {
    return t.thread_started && pthread_equal(pthread_self(), t.thread);
}

/* Every TCP connect of the process: counted unless the transport's own thread makes it. */
int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
    static connect_fn real = NULL;
    if (!real) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY);
        void *symbol = libc ? dlsym(libc, "connect") : NULL;
        memcpy(&real, &symbol, sizeof real);
    }
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) && !on_transport_thread()) {
        pthread_mutex_lock(&connect_lock);
        foreign_connects++;
        pthread_mutex_unlock(&connect_lock);
    }
    return real(fd, addr, len);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int starts_with_nocase(const char *s, const char *prefix) {
    for (; *prefix; s++, prefix++) {
        char a = *s, b = *prefix;
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

/* ---- libcurl callbacks (on the transport thread) ---- */

static size_t on_header(char *data, size_t size, size_t count, void *user) {
    transfer *tr = user;
    size_t n = size * count;
    char line[4096];
    size_t len = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, data, len);
    line[len] = 0;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n')) line[--len] = 0;
    if (starts_with_nocase(line, "HTTP/")) {
        const char *space = strchr(line, ' ');
        if (space) clips_exchange_set_status(tr->x, (uint32_t)atoi(space + 1));
    } else {
        char *colon = strchr(line, ':');
        if (colon) {
            char *value = colon + 1;
            *colon = 0;
            while (*value == ' ') value++;
            clips_exchange_add_header(tr->x, line, value);
        }
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    transfer *tr = user;
    /* Over the library's cap: abort the transfer (curl then reports a write error). */
    return clips_exchange_write_body(tr->x, (const uint8_t *)data, size * count) == CLIPS_OK ? size * count : 0;
}

static void finish(transfer *tr, uint32_t outcome, const char *message) {
    clips_exchange_complete(tr->x, outcome, message);
    curl_slist_free_all(tr->headers);
    curl_easy_cleanup(tr->easy);
    free(tr);
    pthread_mutex_lock(&t.lock);
    t.in_flight--;
    pthread_mutex_unlock(&t.lock);
}

static uint32_t outcome_of(CURLcode code) {
    switch (code) {
    case CURLE_OK: return CLIPS_TRANSPORT_ANSWERED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT: return CLIPS_TRANSPORT_NOT_SENT;
    case CURLE_PEER_FAILED_VERIFICATION: return CLIPS_TRANSPORT_TLS_UNTRUSTED;
    default: return CLIPS_TRANSPORT_FAILED;
    }
}

static transfer *unlink_from(transfer **list, transfer *tr) {
    for (transfer **at = list; *at; at = &(*at)->next) {
        if (*at == tr) {
            *at = tr->next;
            return tr;
        }
    }
    return NULL;
}

static void *transport_thread(void *arg) {
    (void)arg;
    while (1) {
        pthread_mutex_lock(&t.lock);
        if (t.stop) {
            pthread_mutex_unlock(&t.lock);
            break;
        }
        while (t.queued) {
            transfer *tr = t.queued;
            t.queued = tr->next;
            tr->next = t.active;
            t.active = tr;
            curl_multi_add_handle(t.multi, tr->easy);
        }
        transfer *cancelled = NULL;
        for (transfer *tr = t.active, *next; tr; tr = next) {
            next = tr->next;
            if (tr->cancel_asked) {
                unlink_from(&t.active, tr);
                tr->next = cancelled;
                cancelled = tr;
            }
        }
        pthread_mutex_unlock(&t.lock);
        for (transfer *tr = cancelled, *next; tr; tr = next) {
            next = tr->next;
            curl_multi_remove_handle(t.multi, tr->easy);
            finish(tr, CLIPS_TRANSPORT_CANCELLED, "cancelled");
        }
        int running = 0;
        curl_multi_perform(t.multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(t.multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            transfer *tr = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&tr);
            CURLcode code = msg->data.result;
            curl_multi_remove_handle(t.multi, tr->easy);
            pthread_mutex_lock(&t.lock);
            unlink_from(&t.active, tr);
            pthread_mutex_unlock(&t.lock);
            finish(tr, outcome_of(code), code == CURLE_OK ? NULL : curl_easy_strerror(code));
        }
        curl_multi_poll(t.multi, NULL, 0, 100, NULL);
    }
    return NULL;
}

/* ---- the ClipsTransport (called on gameclips' threads) ---- */

static ClipsResult transport_send(void *user, ClipsExchange *x, const ClipsHttpRequest *request) {
    (void)user;
    pthread_mutex_lock(&t.lock);
    t.sends++;
    if (strstr(request->url, FOREIGN_HOST)) t.foreign_urls++;
    if (t.mode == NEVER) {
        if (t.held_count < sizeof t.held / sizeof t.held[0]) t.held[t.held_count++] = x;
        pthread_mutex_unlock(&t.lock);
        return CLIPS_OK;
    }
    if (t.in_flight >= t.capacity) {
        t.would_blocks++;
        pthread_mutex_unlock(&t.lock);
        return CLIPS_E_WOULD_BLOCK;
    }
    t.in_flight++;
    if (t.in_flight > t.max_in_flight) t.max_in_flight = t.in_flight;
    pthread_mutex_unlock(&t.lock);

    if (t.mode == REDIRECT && strcmp(request->method, "PUT") == 0 && strstr(request->url, "/upload/")) {
        /* Completed inside send, as the contract allows: a redirect to a host the title never trusted. */
        clips_exchange_set_status(x, 307);
        clips_exchange_add_header(x, "Location", "http://" FOREIGN_HOST ":9/upload/stolen");
        clips_exchange_complete(x, CLIPS_TRANSPORT_ANSWERED, NULL);
        pthread_mutex_lock(&t.lock);
        t.in_flight--;
        pthread_mutex_unlock(&t.lock);
        return CLIPS_OK;
    }

    transfer *tr = calloc(1, sizeof *tr);
    tr->x = x;
    tr->easy = curl_easy_init();
    for (size_t i = 0; i < request->header_count; i++) {
        char line[8192];
        snprintf(line, sizeof line, "%s: %s", request->headers[i].name, request->headers[i].value);
        tr->headers = curl_slist_append(tr->headers, line);
    }
    tr->headers = curl_slist_append(tr->headers, "Expect:");
    CURL *e = tr->easy;
    curl_easy_setopt(e, CURLOPT_URL, request->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, tr->headers);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)request->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, tr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, tr);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)tr);
    if (strcmp(request->method, "GET") != 0) {
        /* The body stays valid until the exchange completes: no copy. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, request->body ? (const char *)request->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_len);
        if (strcmp(request->method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request->method);
    }
    pthread_mutex_lock(&t.lock);
    tr->next = t.queued;
    t.queued = tr;
    pthread_mutex_unlock(&t.lock);
    curl_multi_wakeup(t.multi);
    return CLIPS_OK;
}

static void transport_cancel(void *user, ClipsExchange *x) {
    (void)user;
    pthread_mutex_lock(&t.lock);
    t.cancels++;
    /* NEVER mode ignores cancel: its exchanges are completed after destroy. */
    for (transfer *tr = t.active; tr; tr = tr->next)
        if (tr->x == x) tr->cancel_asked = 1;
    for (transfer *tr = t.queued; tr; tr = tr->next)
        if (tr->x == x) tr->cancel_asked = 1;
    pthread_mutex_unlock(&t.lock);
    curl_multi_wakeup(t.multi);
}

/* ---- the game side ---- */

static ClipsStatus wait_end(ClipsClient *c, ClipsHandle h, long timeout_ms) {
    ClipsStatus s;
    clips_status_init(&s);
    long until = now_ms() + timeout_ms;
    while (now_ms() < until) {
        if (clips_poll(c, h, &s) != CLIPS_OK) break;
        if (s.state == CLIPS_STATE_COMPLETED || s.state == CLIPS_STATE_FAILED || s.state == CLIPS_STATE_CANCELLED)
            break;
        sleep_ms(5);
    }
    return s;
}

static void print_clip_id(ClipsClient *c, ClipsHandle h, const char *key) {
    char id[128];
    size_t len = 0;
    CHECK(clips_get_clip_id(c, h, id, sizeof id, &len) == CLIPS_OK);
    printf("%s %s\n", key, id);
}

static ClipsClient *make_client(const char *base, const char *token, int with_transport, uint32_t timeout_ms) {
    static ClipsTransport transport;
    transport.struct_size = sizeof transport;
    transport.user = NULL;
    transport.send = transport_send;
    transport.cancel = transport_cancel;
    ClipsClientOptions o;
    clips_client_options_init(&o);
    o.metadata_base_url = base;
    o.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP;
    o.block_size = 65536;
    o.transport = with_transport ? &transport : NULL;
    if (timeout_ms) o.request_timeout_ms = timeout_ms;
    o.shutdown_timeout_ms = 1000;
    ClipsClient *c = NULL;
    CHECK(clips_client_create(&o, &c) == CLIPS_OK);
    if (c) CHECK(clips_set_authorization(c, token) == CLIPS_OK);
    return c;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    return size;
}

static void session(ClipsClient *c, const char *file) {
    ClipsHandle h = begin_upload(c, file, 0);
    ClipsStatus s = wait_end(c, h, 60000);
    CHECK(s.state == CLIPS_STATE_COMPLETED);
    print_clip_id(c, h, "file_clip");

    /* Push mode: the game hands over the same bytes block by block. */
    long size = file_size(file);
    FILE *f = fopen(file, "rb");
    uint8_t *bytes = malloc((size_t)size);
    CHECK(f && fread(bytes, 1, (size_t)size, f) == (size_t)size);
    if (f) fclose(f);
    ClipsHandle p = begin_upload(c, NULL, (uint64_t)size);
    uint32_t next = 0, blocks = (uint32_t)((size + 65535) / 65536);
    long until = now_ms() + 60000;
    while (now_ms() < until) {
        while (next < blocks) {
            size_t off = (size_t)next * 65536, len = (size_t)size - off < 65536 ? (size_t)size - off : 65536;
            ClipsResult r = clips_push_block(c, p, next, bytes + off, len);
            if (r == CLIPS_E_WOULD_BLOCK) break;
            CHECK(r == CLIPS_OK);
            next++;
        }
        clips_poll(c, p, &s);
        if (s.state == CLIPS_STATE_COMPLETED || s.state == CLIPS_STATE_FAILED) break;
        sleep_ms(5);
    }
    free(bytes);
    CHECK(s.state == CLIPS_STATE_COMPLETED);
    print_clip_id(c, p, "push_clip");

    char id[128];
    size_t len = 0;
    clips_get_clip_id(c, h, id, sizeof id, &len);
    ClipsMetadataUpdate m;
    clips_metadata_update_init(&m);
    m.user_caption = "through the title's transport";
    ClipsHandle op = 0;
    CHECK(clips_update_metadata(c, SCID, id, &m, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    clips_release(c, op);
    CHECK(clips_get_clip(c, NULL, SCID, id, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    char json[16384];
    CHECK(clips_get_result_json(c, op, json, sizeof json, &len) == CLIPS_OK);
    printf("get_has_caption %d\n", strstr(json, "through the title's transport") != NULL);
    clips_release(c, op);
    CHECK(clips_list_clips(c, NULL, SCID, 0, NULL, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    CHECK(clips_get_result_json(c, op, json, sizeof json, &len) == CLIPS_OK);
    printf("list_has_clip %d\n", strstr(json, id) != NULL);
    clips_release(c, op);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: curl_transport session|builtin|never|redirect BASE TOKEN DIR [FILE]\n");
        return 2;
    }
    const char *mode = argv[1], *base = argv[2], *token = argv[3], *file = argc > 5 ? argv[5] : NULL;
    t.mode = strcmp(mode, "builtin") == 0 ? BUILTIN
           : strcmp(mode, "never") == 0   ? NEVER
           : strcmp(mode, "redirect") == 0 ? REDIRECT
                                           : SESSION;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    t.multi = curl_multi_init();
    pthread_create(&t.thread, NULL, transport_thread, NULL);
    t.thread_started = 1;

    if (t.mode == SESSION) {
        ClipsClient *c = make_client(base, token, 1, 0);
        if (c) session(c, file);
        clips_client_destroy(c);
    } else if (t.mode == BUILTIN) {
        ClipsClient *c = make_client(base, token, 0, 0);
        ClipsHandle op = 0;
        CHECK(clips_list_clips(c, NULL, SCID, 0, NULL, &op) == CLIPS_OK);
        CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
        clips_client_destroy(c);
    } else if (t.mode == NEVER) {
        /* Request timeout 250 ms: gameclips' deadline for one exchange is 4 of them. */
        ClipsClient *c = make_client(base, token, 1, 250);
        ClipsHandle op = 0;
        long started = now_ms();
        CHECK(clips_list_clips(c, NULL, SCID, 0, NULL, &op) == CLIPS_OK);
        while (now_ms() - started < 10000) {
            pthread_mutex_lock(&t.lock);
            unsigned cancels = t.cancels;
            pthread_mutex_unlock(&t.lock);
            if (cancels > 0) break;
            sleep_ms(5);
        }
        printf("first_cancel_ms %ld\n", now_ms() - started);
        /* The game cancels an operation whose request hangs: the transport hears cancel at once. (The
           list goes first, so that only the get's exchange is in flight.) */
        CHECK(clips_cancel(c, op) == CLIPS_OK);
        sleep_ms(200);
        pthread_mutex_lock(&t.lock);
        unsigned held_before = t.held_count, cancels_before = t.cancels;
        pthread_mutex_unlock(&t.lock);
        ClipsHandle cancelled = 0;
        CHECK(clips_get_clip(c, NULL, SCID, "00000000-0000-0000-0000-000000000001", &cancelled) == CLIPS_OK);
        long asked = now_ms();
        for (int held = 0; !held && now_ms() - asked < 5000; sleep_ms(1)) {
            pthread_mutex_lock(&t.lock);
            held = t.held_count > held_before;
            pthread_mutex_unlock(&t.lock);
        }
        long cancel_at = now_ms();
        CHECK(clips_cancel(c, cancelled) == CLIPS_OK);
        for (int heard = 0; !heard && now_ms() - cancel_at < 5000; sleep_ms(1)) {
            pthread_mutex_lock(&t.lock);
            heard = t.cancels > cancels_before;
            pthread_mutex_unlock(&t.lock);
        }
        printf("cancel_on_cancel_ms %ld\n", now_ms() - cancel_at);
        begin_upload(c, NULL, 100000);
        sleep_ms(100);
        long destroy_started = now_ms();
        clips_client_destroy(c);
        printf("destroy_ms %ld\n", now_ms() - destroy_started);
        /* Completions long after destroy, as a slow platform stack might deliver them. */
        pthread_mutex_lock(&t.lock);
        unsigned held = t.held_count, ok = 0;
        for (unsigned i = 0; i < held; i++) {
            static const uint8_t body[] = "{\"late\":true}";
            clips_exchange_set_status(t.held[i], 200);
            clips_exchange_add_header(t.held[i], "Content-Type", "application/json");
            clips_exchange_write_body(t.held[i], body, sizeof body - 1);
            ok += clips_exchange_complete(t.held[i], CLIPS_TRANSPORT_ANSWERED, NULL) == CLIPS_OK;
        }
        pthread_mutex_unlock(&t.lock);
        printf("late_completions %u of %u\n", ok, held);
        /* A second complete of the same exchange is refused, not a use after free. */
        if (held > 0) CHECK(clips_exchange_complete(t.held[0], CLIPS_TRANSPORT_ANSWERED, NULL) == CLIPS_E_INVALID_HANDLE);
    } else {
        ClipsClient *c = make_client(base, token, 1, 0);
        ClipsStatus s = wait_end(c, begin_upload(c, file, 0), 30000);
        printf("redirect_state %u result %s\n", s.state, clips_result_name(s.result));
        clips_client_destroy(c);
    }

    pthread_mutex_lock(&t.lock);
    t.stop = 1;
    pthread_mutex_unlock(&t.lock);
    curl_multi_wakeup(t.multi);
    pthread_join(t.thread, NULL);
    curl_multi_cleanup(t.multi);
    curl_global_cleanup();
    printf("sends %u\nwould_blocks %u\nmax_in_flight %u\ncancels %u\nforeign_urls %u\nforeign_connects %u\n", t.sends,
           t.would_blocks, t.max_in_flight, t.cancels, t.foreign_urls, foreign_connects);
    printf("failures %d\n", failures);
    return failures == 0 ? 0 : 1;
}

/*
 * A title's HTTP stack for gameclips on Windows (and the Xbox GDK, where XR-134 allows the platform's
 * WinHTTP): a ClipsTransport over WinHTTP, for the library built without its own HTTP stack
 * (--no-default-features). Copy the transport part (down to "the game side") as it is.
 *
 * Each exchange runs on a thread of its own with WinHTTP's synchronous calls; cancel closes the
 * exchange's request handle, which ends whatever call is blocked on it. Redirects are not followed
 * (gameclips checks them against its upload hosts). At most `capacity` exchanges run at once; beyond it
 * send answers CLIPS_E_WOULD_BLOCK and gameclips tries again later.
 *
 *   winhttp_transport session METADATA_URL AUTHORIZATION FILE   a file-mode and a push-mode upload of
 *                                                               FILE, then update, get and list
 *   winhttp_transport cancel  METADATA_URL AUTHORIZATION FILE   an upload cancelled, then a client
 *                                                               destroyed, with exchanges in flight
 *
 * Prints `key value` lines; exits 0 when every check held.
 */
#include <windows.h>
#include <winhttp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gameclips.h"

/* ---- the transport ---- */

typedef struct job {
    ClipsExchange *x;
    const ClipsHttpRequest *request; /* valid until x completes */
    HINTERNET connection;
    HINTERNET volatile request_handle; /* closed by whoever takes it: the job, or cancel */
    volatile LONG cancel_asked;
    struct job *next;
} job;

static struct {
    HINTERNET session;
    CRITICAL_SECTION lock; /* guards jobs and the counters */
    job *jobs;
    unsigned capacity, in_flight, max_in_flight, sends, would_blocks, cancels, completed;
} transport;

/* UTF-8 -> a new wide string (free it). */
static wchar_t *wide(const char *text, int len) {
    int n = MultiByteToWideChar(CP_UTF8, 0, text, len, NULL, 0);
    wchar_t *out = calloc((size_t)n + 1, sizeof *out);
    if (out) MultiByteToWideChar(CP_UTF8, 0, text, len, out, n);
    return out;
}

/* Wide -> a new UTF-8 string (free it). */
static char *utf8(const wchar_t *text, int len) {
    int n = WideCharToMultiByte(CP_UTF8, 0, text, len, NULL, 0, NULL, NULL);
    char *out = calloc((size_t)n + 1, 1);
    if (out) WideCharToMultiByte(CP_UTF8, 0, text, len, out, n, NULL, NULL);
    return out;
}

/* Closes the request handle unless cancel already did. */
static void close_request(job *j) {
    HINTERNET handle = InterlockedExchangePointer((PVOID volatile *)&j->request_handle, NULL);
    if (handle) WinHttpCloseHandle(handle);
}

/* Hands every response header to the exchange ("Name: value" lines after the status line). */
static void pass_headers(job *j) {
    DWORD size = 0;
    WinHttpQueryHeaders(j->request_handle, WINHTTP_QUERY_RAW_HEADERS_CRLF, WINHTTP_HEADER_NAME_BY_INDEX, NULL, &size,
                        WINHTTP_NO_HEADER_INDEX);
    wchar_t *raw = calloc(size / sizeof(wchar_t) + 1, sizeof(wchar_t));
    if (!raw) return;
    if (WinHttpQueryHeaders(j->request_handle, WINHTTP_QUERY_RAW_HEADERS_CRLF, WINHTTP_HEADER_NAME_BY_INDEX, raw,
                            &size, WINHTTP_NO_HEADER_INDEX)) {
        char *text = utf8(raw, -1);
        char *line = text ? strstr(text, "\r\n") : NULL; /* skip the status line */
        while (line && *line) {
            line += 2;
            char *end = strstr(line, "\r\n");
            if (end) *end = '\0';
            char *colon = strchr(line, ':');
            if (colon) {
                *colon = '\0';
                const char *value = colon + 1;
                while (*value == ' ') value++;
                clips_exchange_add_header(j->x, line, value);
            }
            line = end;
        }
        free(text);
    }
    free(raw);
}

static uint32_t outcome_of(DWORD error, int cancelled) {
    if (cancelled) return CLIPS_TRANSPORT_CANCELLED;
    switch (error) {
    case ERROR_WINHTTP_NAME_NOT_RESOLVED:
    case ERROR_WINHTTP_CANNOT_CONNECT: return CLIPS_TRANSPORT_NOT_SENT;
    case ERROR_WINHTTP_SECURE_FAILURE: return CLIPS_TRANSPORT_TLS_UNTRUSTED;
    default: return CLIPS_TRANSPORT_FAILED;
    }
}

/* One HTTP attempt, start to end, then the exchange is completed. */
static DWORD WINAPI run_job(LPVOID param) {
    job *j = param;
    const ClipsHttpRequest *r = j->request;
    uint32_t outcome = CLIPS_TRANSPORT_ANSWERED;
    char message[128] = "";
    wchar_t *url = wide(r->url, -1), *method = wide(r->method, -1), *headers = NULL;
    URL_COMPONENTS parts;
    wchar_t host[256], path[4096], query[4096];
    memset(&parts, 0, sizeof parts);
    parts.dwStructSize = sizeof parts;
    parts.lpszHostName = host;
    parts.dwHostNameLength = sizeof host / sizeof host[0];
    parts.lpszUrlPath = path;
    parts.dwUrlPathLength = sizeof path / sizeof path[0];
    parts.lpszExtraInfo = query;
    parts.dwExtraInfoLength = sizeof query / sizeof query[0];
    BOOL ok = url && method && WinHttpCrackUrl(url, 0, 0, &parts);
    /* The request names the path and its query together. */
    if (ok) ok = wcslen(path) + wcslen(query) < sizeof path / sizeof path[0];
    if (ok) wcscat(path, query);
    if (ok) {
        j->connection = WinHttpConnect(transport.session, host, parts.nPort, 0);
        ok = j->connection != NULL;
    }
    if (ok) {
        DWORD flags = parts.nScheme == INTERNET_SCHEME_HTTPS ? WINHTTP_FLAG_SECURE : 0;
        HINTERNET handle = WinHttpOpenRequest(j->connection, method, path, NULL, WINHTTP_NO_REFERER,
                                              WINHTTP_DEFAULT_ACCEPT_TYPES, flags);
        j->request_handle = handle;
        ok = handle != NULL;
        if (ok && j->cancel_asked) ok = FALSE; /* cancelled before the handle existed */
    }
    if (ok) {
        DWORD no_redirects = WINHTTP_DISABLE_REDIRECTS;
        WinHttpSetOption(j->request_handle, WINHTTP_OPTION_DISABLE_FEATURE, &no_redirects, sizeof no_redirects);
        int timeout = r->timeout_ms ? (int)r->timeout_ms : 30000;
        WinHttpSetTimeouts(j->request_handle, timeout, timeout, timeout, timeout);
        /* "Name: value\r\n" for each header (Authorization among them: never log it). */
        size_t total = 1;
        for (size_t i = 0; i < r->header_count; i++)
            total += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
        char *lines = calloc(total, 1);
        for (size_t i = 0; lines && i < r->header_count; i++) {
            strcat(lines, r->headers[i].name);
            strcat(lines, ": ");
            strcat(lines, r->headers[i].value);
            strcat(lines, "\r\n");
        }
        headers = lines ? wide(lines, -1) : NULL;
        free(lines);
        ok = WinHttpSendRequest(j->request_handle, headers ? headers : WINHTTP_NO_ADDITIONAL_HEADERS,
                                headers ? (DWORD)-1L : 0, (LPVOID)r->body, (DWORD)r->body_len, (DWORD)r->body_len, 0) &&
             WinHttpReceiveResponse(j->request_handle, NULL);
    }
    if (ok) {
        DWORD status = 0, size = sizeof status;
        ok = WinHttpQueryHeaders(j->request_handle, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
                                 WINHTTP_HEADER_NAME_BY_INDEX, &status, &size, WINHTTP_NO_HEADER_INDEX);
        if (ok) {
            clips_exchange_set_status(j->x, status);
            pass_headers(j);
        }
        uint8_t buffer[65536];
        DWORD read = 0;
        while (ok && (ok = WinHttpReadData(j->request_handle, buffer, sizeof buffer, &read)) && read > 0) {
            if (clips_exchange_write_body(j->x, buffer, read) != CLIPS_OK) break; /* over the library's cap */
        }
    }
    if (!ok) {
        DWORD error = GetLastError();
        outcome = outcome_of(error, j->cancel_asked != 0);
        snprintf(message, sizeof message, "WinHTTP error %lu", (unsigned long)error);
    }

    EnterCriticalSection(&transport.lock);
    for (job **at = &transport.jobs; *at; at = &(*at)->next) {
        if (*at == j) {
            *at = j->next;
            break;
        }
    }
    transport.in_flight--;
    transport.completed++;
    LeaveCriticalSection(&transport.lock);
    close_request(j);
    if (j->connection) WinHttpCloseHandle(j->connection);
    clips_exchange_complete(j->x, outcome, outcome == CLIPS_TRANSPORT_ANSWERED ? NULL : message);
    free(url);
    free(method);
    free(headers);
    free(j);
    return 0;
}

static ClipsResult transport_send(void *user, ClipsExchange *x, const ClipsHttpRequest *request) {
    (void)user;
    EnterCriticalSection(&transport.lock);
    transport.sends++;
    if (transport.in_flight >= transport.capacity) {
        transport.would_blocks++;
        LeaveCriticalSection(&transport.lock);
        return CLIPS_E_WOULD_BLOCK;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        LeaveCriticalSection(&transport.lock);
        return CLIPS_E_OUT_OF_MEMORY;
    }
    j->x = x;
    j->request = request;
    j->next = transport.jobs;
    transport.jobs = j;
    transport.in_flight++;
    if (transport.in_flight > transport.max_in_flight) transport.max_in_flight = transport.in_flight;
    HANDLE thread = CreateThread(NULL, 0, run_job, j, 0, NULL);
    if (!thread) {
        transport.jobs = j->next;
        transport.in_flight--;
        LeaveCriticalSection(&transport.lock);
        free(j);
        return CLIPS_E_INTERNAL;
    }
    LeaveCriticalSection(&transport.lock);
    CloseHandle(thread);
    return CLIPS_OK;
}

static void transport_cancel(void *user, ClipsExchange *x) {
    (void)user;
    EnterCriticalSection(&transport.lock);
    transport.cancels++;
    /* A job still in the list has not completed its exchange: closing its request ends its call. */
    for (job *j = transport.jobs; j; j = j->next) {
        if (j->x == x) {
            InterlockedExchange(&j->cancel_asked, 1);
            close_request(j);
        }
    }
    LeaveCriticalSection(&transport.lock);
}

static int transport_start(unsigned capacity) {
    InitializeCriticalSection(&transport.lock);
    transport.capacity = capacity;
    transport.session = WinHttpOpen(L"gameclips-winhttp/1", WINHTTP_ACCESS_TYPE_NO_PROXY, WINHTTP_NO_PROXY_NAME,
                                    WINHTTP_NO_PROXY_BYPASS, 0);
    return transport.session != NULL;
}

/* ---- the game side ---- */

#define SCID "00000000-0000-0000-0000-00006e7c2ab1"
#define BLOCK 65536

static int failures = 0;

#define CHECK(cond)                                                                                       \
    do {                                                                                                  \
        if (!(cond)) {                                                                                    \
            char why_[512];                                                                               \
            size_t len_ = 0;                                                                              \
            clips_last_error_message(why_, sizeof why_, &len_);                                           \
            fprintf(stderr, "line %d: %s does not hold (%s)\n", __LINE__, #cond, why_);                  \
            failures++;                                                                                   \
        }                                                                                                 \
    } while (0)

static unsigned counter(unsigned *value) {
    EnterCriticalSection(&transport.lock);
    unsigned now = *value;
    LeaveCriticalSection(&transport.lock);
    return now;
}

static ClipsStatus wait_end(ClipsClient *c, ClipsHandle h, DWORD timeout_ms) {
    ClipsStatus s;
    clips_status_init(&s);
    DWORD until = GetTickCount() + timeout_ms;
    while ((LONG)(until - GetTickCount()) > 0) {
        if (clips_poll(c, h, &s) != CLIPS_OK) break;
        if (s.state == CLIPS_STATE_COMPLETED || s.state == CLIPS_STATE_FAILED || s.state == CLIPS_STATE_CANCELLED)
            break;
        Sleep(5);
    }
    return s;
}

static ClipsClient *make_client(const char *base, const char *token) {
    static ClipsTransport t;
    t.struct_size = sizeof t;
    t.send = transport_send;
    t.cancel = transport_cancel;
    ClipsClientOptions o;
    clips_client_options_init(&o);
    o.metadata_base_url = base;
    o.flags = CLIPS_FLAG_ALLOW_INSECURE_HTTP; /* the emulator on http */
    o.block_size = BLOCK;
    o.transport = &t;
    o.shutdown_timeout_ms = 2000;
    ClipsClient *c = NULL;
    CHECK(clips_client_create(&o, &c) == CLIPS_OK);
    if (c) CHECK(clips_set_authorization(c, token) == CLIPS_OK);
    return c;
}

static ClipsHandle begin_file(ClipsClient *c, const char *file) {
    ClipsUploadOptions u;
    clips_upload_options_init(&u);
    u.scid = SCID;
    u.file_path = file;
    ClipsHandle h = 0;
    CHECK(clips_begin_upload(c, &u, &h) == CLIPS_OK);
    return h;
}

static void print_clip_id(ClipsClient *c, ClipsHandle h, const char *key, char *id, size_t cap) {
    size_t len = 0;
    CHECK(clips_get_clip_id(c, h, id, cap, &len) == CLIPS_OK);
    printf("%s %s\n", key, id);
}

static void session(ClipsClient *c, const char *file) {
    char file_id[128] = "", push_id[128] = "", json[16384];
    size_t len = 0;
    ClipsHandle h = begin_file(c, file);
    ClipsStatus s = wait_end(c, h, 60000);
    if (s.state != CLIPS_STATE_COMPLETED) {
        char why[512];
        clips_get_error_message(c, h, why, sizeof why, &len);
        fprintf(stderr, "file upload: %s: %s\n", clips_result_name(s.result), why);
    }
    CHECK(s.state == CLIPS_STATE_COMPLETED);
    print_clip_id(c, h, "file_clip", file_id, sizeof file_id);

    /* Push mode: the game hands over the same bytes block by block. */
    FILE *f = fopen(file, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)size);
    CHECK(bytes && fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    ClipsUploadOptions u;
    clips_upload_options_init(&u);
    u.scid = SCID;
    u.file_size = (uint64_t)size;
    ClipsHandle p = 0;
    CHECK(clips_begin_upload(c, &u, &p) == CLIPS_OK);
    uint32_t next = 0, blocks = (uint32_t)((size + BLOCK - 1) / BLOCK);
    DWORD until = GetTickCount() + 60000;
    while ((LONG)(until - GetTickCount()) > 0) {
        while (next < blocks) {
            size_t off = (size_t)next * BLOCK, n = (size_t)size - off < BLOCK ? (size_t)size - off : BLOCK;
            ClipsResult r = clips_push_block(c, p, next, bytes + off, n);
            if (r == CLIPS_E_WOULD_BLOCK) break;
            CHECK(r == CLIPS_OK);
            next++;
        }
        clips_poll(c, p, &s);
        if (s.state == CLIPS_STATE_COMPLETED || s.state == CLIPS_STATE_FAILED) break;
        Sleep(5);
    }
    free(bytes);
    CHECK(s.state == CLIPS_STATE_COMPLETED);
    print_clip_id(c, p, "push_clip", push_id, sizeof push_id);

    ClipsMetadataUpdate m;
    clips_metadata_update_init(&m);
    m.user_caption = "through WinHTTP";
    ClipsHandle op = 0;
    CHECK(clips_update_metadata(c, SCID, file_id, &m, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    clips_release(c, op);
    CHECK(clips_get_clip(c, NULL, SCID, file_id, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    CHECK(clips_get_result_json(c, op, json, sizeof json, &len) == CLIPS_OK);
    printf("get_has_caption %d\n", strstr(json, "through WinHTTP") != NULL);
    clips_release(c, op);
    CHECK(clips_list_clips(c, NULL, SCID, 0, NULL, &op) == CLIPS_OK);
    CHECK(wait_end(c, op, 30000).state == CLIPS_STATE_COMPLETED);
    CHECK(clips_get_result_json(c, op, json, sizeof json, &len) == CLIPS_OK);
    printf("list_has_clips %d\n", strstr(json, file_id) != NULL && strstr(json, push_id) != NULL);
    clips_release(c, op);
}

/* An upload cancelled while its blocks are in flight, then a client destroyed with exchanges in flight
 * (the test runs the emulator on a slow link, so they are). */
static void cancel_and_destroy(const char *base, const char *token, const char *file) {
    ClipsClient *c = make_client(base, token);
    if (!c) return;
    ClipsHandle h = begin_file(c, file);
    DWORD until = GetTickCount() + 30000;
    while (counter(&transport.in_flight) < 2 && (LONG)(until - GetTickCount()) > 0) Sleep(5);
    unsigned cancels = counter(&transport.cancels);
    CHECK(clips_cancel(c, h) == CLIPS_OK);
    ClipsStatus s = wait_end(c, h, 30000);
    printf("cancelled_state %u\n", s.state);
    /* gameclips' worker waiting on the exchange sees the cancel and passes it on. */
    until = GetTickCount() + 5000;
    while (counter(&transport.cancels) == cancels && (LONG)(until - GetTickCount()) > 0) Sleep(5);
    printf("cancel_reached_transport %d\n", counter(&transport.cancels) > cancels);
    clips_release(c, h);

    begin_file(c, file);
    until = GetTickCount() + 30000;
    while (counter(&transport.in_flight) < 2 && (LONG)(until - GetTickCount()) > 0) Sleep(5);
    printf("in_flight_at_destroy %u\n", counter(&transport.in_flight));
    DWORD started = GetTickCount();
    clips_client_destroy(c);
    printf("destroy_ms %lu\n", (unsigned long)(GetTickCount() - started));
    /* Every exchange is completed (the transport's threads end after destroy returns, cleanly). */
    until = GetTickCount() + 10000;
    while (counter(&transport.in_flight) > 0 && (LONG)(until - GetTickCount()) > 0) Sleep(5);
    printf("in_flight_after %u\n", counter(&transport.in_flight));
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s session|cancel METADATA_URL AUTHORIZATION FILE\n", argv[0]);
        return 2;
    }
    if (!transport_start(2)) {
        fprintf(stderr, "WinHttpOpen failed: %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    if (strcmp(argv[1], "cancel") == 0) {
        cancel_and_destroy(argv[2], argv[3], argv[4]);
    } else {
        ClipsClient *c = make_client(argv[2], argv[3]);
        if (c) session(c, argv[4]);
        clips_client_destroy(c);
    }
    printf("sends %u\nwould_blocks %u\nmax_in_flight %u\ncancels %u\ncompleted %u\n", counter(&transport.sends),
           counter(&transport.would_blocks), counter(&transport.max_in_flight), counter(&transport.cancels),
           counter(&transport.completed));
    printf("failures %d\n", failures);
    WinHttpCloseHandle(transport.session);
    return failures == 0 ? 0 : 1;
}

/* The library's threads on Windows, seen with the Windows API (tests/windows.rs). Two clients, each
 * uploads FILE:
 * - "named": ClipsThreadOptions with a name prefix and an affinity mask of CPU 0. Every thread of the
 *   process is listed (CreateToolhelp32Snapshot); those whose description (GetThreadDescription) starts
 *   with the prefix are counted, and each one's affinity is read back (SetThreadAffinityMask returns
 *   the mask it replaces, here set again to the same).
 * - "title": start_thread set; every thread the library needs is made here with CreateThread.
 *
 *   windows_threads BASE_URL TOKEN FILE
 *
 * Prints "named N", "affinity_ok N", "title_started N", "title_ended N" (joined after
 * clips_client_destroy, before exit, as a title joins its threads), "uploads 2"; exits 0 when all held.
 */
#define _WIN32_WINNT 0x0A00
#include <windows.h>
#include <tlhelp32.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "gameclips.h"
#include "../../examples/c/example_support.h"

#define PREFIX L"gcxwin"

/* Windows 10's GetThreadDescription; mingw's headers may not declare it, so it is looked up as a title
 * supporting older SDKs would. */
typedef HRESULT(WINAPI *GetThreadDescriptionFn)(HANDLE thread, PWSTR *description);

static GetThreadDescriptionFn get_thread_description(void) {
    GetThreadDescriptionFn function = NULL;
    FARPROC found = GetProcAddress(GetModuleHandleW(L"kernel32.dll"), "GetThreadDescription");
    if (!found) found = GetProcAddress(GetModuleHandleW(L"kernelbase.dll"), "GetThreadDescription");
    if (found) memcpy(&function, &found, sizeof function);
    return function;
}

static int upload(ClipsClient *client, const char *file) {
    ClipsUploadOptions upload;
    ClipsStatus status;
    ClipsHandle handle = 0;
    ClipsResult result;
    clips_upload_options_init(&upload);
    upload.scid = "00000000-0000-0000-0000-00006e7c2ab1";
    upload.file_path = file;
    result = clips_begin_upload(client, &upload, &handle);
    if (result != CLIPS_OK) return fail("clips_begin_upload", result);
    clips_status_init(&status);
    do {
        Sleep(10);
        result = clips_poll(client, handle, &status);
        if (result != CLIPS_OK) return fail("clips_poll", result);
    } while (status.state != CLIPS_STATE_COMPLETED && status.state != CLIPS_STATE_FAILED &&
             status.state != CLIPS_STATE_CANCELLED);
    clips_release(client, handle);
    if (status.state != CLIPS_STATE_COMPLETED) {
        fprintf(stderr, "upload ended in state %u\n", status.state);
        return 1;
    }
    return 0;
}

static ClipsClient *make_client(const char *url, const char *token, const ClipsThreadOptions *threads) {
    ClipsClientOptions options;
    ClipsClient *client = NULL;
    clips_client_options_init(&options);
    options.metadata_base_url = url;
    options.threads = threads;
    if (clips_client_create(&options, &client) != CLIPS_OK) return NULL;
    if (clips_set_authorization(client, token) != CLIPS_OK) return NULL;
    return client;
}

/* Threads of this process named with PREFIX; how many of them run on CPU 0 only. */
static unsigned named_threads(unsigned *affinity_ok) {
    unsigned named = 0;
    THREADENTRY32 entry;
    GetThreadDescriptionFn describe = get_thread_description();
    HANDLE snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    *affinity_ok = 0;
    if (snapshot == INVALID_HANDLE_VALUE || !describe) return 0;
    entry.dwSize = sizeof entry;
    for (BOOL more = Thread32First(snapshot, &entry); more; more = Thread32Next(snapshot, &entry)) {
        if (entry.th32OwnerProcessID != GetCurrentProcessId()) continue;
        HANDLE thread = OpenThread(THREAD_QUERY_LIMITED_INFORMATION | THREAD_SET_INFORMATION |
                                       THREAD_QUERY_INFORMATION,
                                   FALSE, entry.th32ThreadID);
        if (!thread) continue;
        PWSTR description = NULL;
        if (SUCCEEDED(describe(thread, &description)) && description &&
            wcsncmp(description, PREFIX, wcslen(PREFIX)) == 0) {
            named++;
            if (SetThreadAffinityMask(thread, 1) == 1) (*affinity_ok)++;
        }
        if (description) LocalFree(description);
        CloseHandle(thread);
    }
    CloseHandle(snapshot);
    return named;
}

struct started {
    void (*entry)(void *);
    void *arg;
};

/* The threads start_thread made, joined before exit as a title joins its own threads. */
#define MAX_TITLE_THREADS 64
static HANDLE title_threads[MAX_TITLE_THREADS];
static volatile LONG title_started = 0;

static DWORD WINAPI run_entry(LPVOID param) {
    struct started job = *(struct started *)param;
    HeapFree(GetProcessHeap(), 0, param);
    job.entry(job.arg);
    return 0;
}

static ClipsResult start_thread(void *user, const char *name, void (*entry)(void *arg), void *arg) {
    (void)user;
    (void)name;
    struct started *job = HeapAlloc(GetProcessHeap(), 0, sizeof *job);
    if (!job) return CLIPS_E_OUT_OF_MEMORY;
    job->entry = entry;
    job->arg = arg;
    if (title_started >= MAX_TITLE_THREADS) {
        HeapFree(GetProcessHeap(), 0, job);
        return CLIPS_E_INTERNAL;
    }
    HANDLE thread = CreateThread(NULL, 0, run_entry, job, 0, NULL);
    if (!thread) {
        HeapFree(GetProcessHeap(), 0, job);
        return CLIPS_E_INTERNAL;
    }
    /* Only the thread that creates the client calls start_thread: no race on the slot. */
    title_threads[title_started] = thread;
    InterlockedIncrement(&title_started);
    return CLIPS_OK;
}

/* How many of the title's threads ended within a minute of clips_client_destroy (each returns once the
 * client stopped; the bound only keeps a bug from hanging the test). */
static unsigned join_title_threads(void) {
    unsigned ended = 0;
    for (LONG i = 0; i < title_started; i++) {
        if (WaitForSingleObject(title_threads[i], 60000) == WAIT_OBJECT_0) ended++;
        CloseHandle(title_threads[i]);
    }
    return ended;
}

int main(int argc, char **argv) {
    ClipsThreadOptions threads;
    ClipsClient *client;
    unsigned named, affinity_ok, title_ended, uploads = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL TOKEN FILE\n", argv[0]);
        return 2;
    }
    memset(&threads, 0, sizeof threads);
    threads.struct_size = sizeof threads;
    threads.name_prefix = "gcxwin";
    threads.affinity_mask = 1;
    client = make_client(argv[1], argv[2], &threads);
    if (!client) return fail("clips_client_create (named)", CLIPS_E_INTERNAL);
    if (upload(client, argv[3]) == 0) uploads++;
    named = named_threads(&affinity_ok);
    clips_client_destroy(client);

    memset(&threads, 0, sizeof threads);
    threads.struct_size = sizeof threads;
    threads.start_thread = start_thread;
    client = make_client(argv[1], argv[2], &threads);
    if (!client) return fail("clips_client_create (title)", CLIPS_E_INTERNAL);
    if (upload(client, argv[3]) == 0) uploads++;
    clips_client_destroy(client);
    title_ended = join_title_threads();

    printf("named %u\naffinity_ok %u\ntitle_started %ld\ntitle_ended %u\nuploads %u\n", named, affinity_ok,
           (long)title_started, title_ended, uploads);
    return uploads == 2 && named > 0 && affinity_ok == named && title_started > 0 &&
                   title_ended == (unsigned)title_started
               ? 0
               : 1;
}

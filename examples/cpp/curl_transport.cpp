// The title's own HTTP stack under gameclips, written with the C++ wrapper: a gameclips::HttpTransport over
// libcurl's easy interface. Each exchange is performed and completed inside send(), on the gameclips worker
// that asked, which the contract allows and which makes this the smallest correct transport. A console
// title would hand the exchange to its stack's own thread instead (xCurl's multi handle, IHttpRequest),
// as tests/c/curl_transport.c does; gameclips keeps the retries, back-off and redirects either way.
//
//   curl_transport METADATA_URL AUTHORIZATION FILE [SCID]
//
// Uploads FILE through the transport, captions the clip and reads it back. Prints "clip id: <id>",
// "caption: <caption>" and "exchanges: <n>"; exits 0 on success, 1 otherwise.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <curl/curl.h>

#include "gameclips.hpp"
#include "example_support.hpp"

namespace {

class CurlTransport final : public gameclips::HttpTransport {
public:
    ClipsResult send(gameclips::Exchange exchange, const ClipsHttpRequest &request) noexcept override {
        exchanges_.fetch_add(1);
        Transfer transfer{exchange, {false}};
        CURL *easy = curl_easy_init();
        if (!easy) {
            (void)exchange.complete(CLIPS_TRANSPORT_NOT_SENT, "curl_easy_init failed");
            return CLIPS_OK;
        }
        struct curl_slist *headers = nullptr;
        for (size_t i = 0; i < request.header_count; i++) {
            std::string line = std::string(request.headers[i].name) + ": " + request.headers[i].value;
            headers = curl_slist_append(headers, line.c_str());
        }
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(easy, CURLOPT_URL, request.url);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // gameclips decides about redirects
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
        curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
        // gameclips' cancel (its deadline, clips_cancel, suspend, destroy) ends the transfer here.
        curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
        if (std::strcmp(request.method, "GET") != 0) {
            // The body stays valid until the exchange completes: no copy.
            curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body ? reinterpret_cast<const char *>(request.body) : "");
            curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body_len));
            if (std::strcmp(request.method, "POST") != 0) curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method);
        }
        track(&transfer);
        const CURLcode code = curl_easy_perform(easy);
        untrack(&transfer);
        curl_slist_free_all(headers);
        curl_easy_cleanup(easy);
        // The exchange is gone after this; gameclips ignores what a refused completion would say.
        (void)exchange.complete(outcome_of(code, transfer), code == CURLE_OK ? "" : curl_easy_strerror(code));
        return CLIPS_OK;
    }

    // From any thread; the exchange may be finishing at the same moment, so only a tracked one is touched.
    void cancel(gameclips::Exchange exchange) noexcept override {
        std::lock_guard<std::mutex> lock(lock_);
        for (Transfer *transfer : active_) {
            if (transfer->exchange.get() == exchange.get()) transfer->cancelled = true;
        }
    }

    unsigned exchanges() const { return exchanges_.load(); }

private:
    struct Transfer {
        gameclips::Exchange exchange;
        std::atomic<bool> cancelled;
    };

    static size_t on_header(char *data, size_t size, size_t count, void *user) {
        auto *transfer = static_cast<Transfer *>(user);
        std::string line(data, size * count);
        while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
        if (line.compare(0, 5, "HTTP/") == 0) {
            const size_t space = line.find(' ');
            if (space != std::string::npos) {
                (void)transfer->exchange.set_status(static_cast<uint32_t>(std::atoi(line.c_str() + space + 1)));
            }
        } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
            size_t value = colon + 1;
            while (value < line.size() && line[value] == ' ') value++;
            (void)transfer->exchange.add_header(line.substr(0, colon), line.substr(value));
        }
        return size * count;
    }

    // Over the library's cap write_body fails: returning less than given aborts the transfer.
    static size_t on_body(char *data, size_t size, size_t count, void *user) {
        auto *transfer = static_cast<Transfer *>(user);
        return transfer->exchange.write_body(data, size * count) ? size * count : 0;
    }

    static int on_progress(void *user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<Transfer *>(user)->cancelled ? 1 : 0;
    }

    static uint32_t outcome_of(CURLcode code, const Transfer &transfer) {
        if (transfer.cancelled) return CLIPS_TRANSPORT_CANCELLED;
        switch (code) {
        case CURLE_OK: return CLIPS_TRANSPORT_ANSWERED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT: return CLIPS_TRANSPORT_NOT_SENT;
        case CURLE_PEER_FAILED_VERIFICATION: return CLIPS_TRANSPORT_TLS_UNTRUSTED;
        default: return CLIPS_TRANSPORT_FAILED;
        }
    }

    void track(Transfer *transfer) {
        std::lock_guard<std::mutex> lock(lock_);
        active_.push_back(transfer);
    }

    void untrack(Transfer *transfer) {
        std::lock_guard<std::mutex> lock(lock_);
        for (size_t i = 0; i < active_.size(); i++) {
            if (active_[i] == transfer) {
                active_[i] = active_.back();
                active_.pop_back();
                break;
            }
        }
    }

    std::atomic<unsigned> exchanges_{0};
    std::mutex lock_;
    std::vector<Transfer *> active_;
};

}  // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s METADATA_URL AUTHORIZATION FILE [SCID]\n", argv[0]);
        return 2;
    }
    const std::string scid = argc > 4 ? argv[4] : "00000000-0000-0000-0000-00006e7c2ab1";
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CurlTransport transport;  // outlives the client
    int exit_code = 1;
    {
        auto created = gameclips::Client::create(
            gameclips::ClientOptions().metadata_base_url(argv[1]).transport(transport).worker_threads(4));
        if (!created) return example::fail("create", created.error());
        gameclips::Client client = std::move(created.value());
        if (auto result = client.set_authorization(argv[2]); !result) return example::fail("set_authorization", result);

        std::string clip_id;
        {
            auto upload = client.begin_upload(gameclips::UploadOptions(scid).file(argv[3]).duration_seconds(5));
            if (!upload) return example::fail("begin_upload", upload.error());
            if (!example::run_to_end(client, upload.value())) return 1;
            auto id = upload.value().clip_id();
            if (!id) return example::fail("clip_id", id.error());
            clip_id = id.value();
        }
        std::printf("clip id: %s\n", clip_id.c_str());

        auto update = client.update_metadata(scid, clip_id, gameclips::MetadataUpdate().user_caption("via curl"));
        if (!update) return example::fail("update_metadata", update.error());
        if (!example::run_to_end(client, update.value())) return 1;
        auto get = client.get_clip({}, scid, clip_id);
        if (!get) return example::fail("get_clip", get.error());
        if (!example::run_to_end(client, get.value())) return 1;
        auto json = get.value().result_json();
        if (!json) return example::fail("result_json", json.error());
        const bool captioned = json.value().find("\"userCaption\":\"via curl\"") != std::string::npos;
        std::printf("caption: %s\n", captioned ? "via curl" : json.value().c_str());
        exit_code = captioned ? 0 : 1;
    }  // the client is destroyed here, before the transport it uses
    std::printf("exchanges: %u\n", transport.exchanges());
    curl_global_cleanup();
    return exit_code;
}

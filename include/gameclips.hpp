// gameclips.hpp: a header-only C++17 wrapper over the gameclips C API (gameclips.h).
//
// - RAII: Client destroys its ClipsClient; Upload and Operation release their handle. All are move-only.
// - No exceptions (engines build with -fno-exceptions) and no RTTI: calls return Result / Result<T>,
//   which carry the ClipsResult code and the library's message when they fail.
// - std::string_view in, std::string out. Options are built with chainable setters that own their
//   strings, so temporaries are safe to pass.
// - Client::pump_events(f) drains the event queue once per frame.
//
// Thread rules are the C API's: any call from any thread; nothing here adds a lock.
#ifndef GAMECLIPS_HPP
#define GAMECLIPS_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gameclips.h"

namespace gameclips {

// A call's outcome: the code, and the message explaining a failure.
class [[nodiscard]] Result {
public:
    Result() = default;
    explicit Result(ClipsResult code, std::string message = {}) : code_(code), message_(std::move(message)) {}
    bool ok() const { return code_ >= 0; }
    explicit operator bool() const { return ok(); }
    ClipsResult code() const { return code_; }
    const char *name() const { return clips_result_name(code_); }
    const std::string &message() const { return message_; }

private:
    ClipsResult code_ = CLIPS_OK;
    std::string message_;
};

// A value, or the Result that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
public:
    Expected(T value) : value_(std::move(value)) {}
    Expected(Result error) : error_(std::move(error)) {}
    bool ok() const { return error_.ok(); }
    explicit operator bool() const { return ok(); }
    // Only meaningful when ok().
    T &value() { return value_; }
    const T &value() const { return value_; }
    const Result &error() const { return error_; }

private:
    T value_{};
    Result error_;
};

namespace detail {

inline std::string last_error() {
    size_t len = 0;
    clips_last_error_message(nullptr, 0, &len);
    std::string message(len, '\0');
    if (len > 0 && clips_last_error_message(message.data(), message.size(), &len) == CLIPS_OK) {
        message.resize(len - 1);
    } else {
        message.clear();
    }
    return message;
}

inline Result check(ClipsResult code) { return code >= 0 ? Result(code) : Result(code, last_error()); }

// Reads a string output of the C API: asks for the size, then fills it.
template <typename Getter>
Expected<std::string> read_string(Getter getter) {
    size_t len = 0;
    ClipsResult code = getter(nullptr, 0, &len);
    if (code != CLIPS_E_BUFFER_TOO_SMALL && code < 0) return check(code);
    std::string out(len, '\0');
    code = getter(out.data(), out.size(), &len);
    if (code < 0) return check(code);
    out.resize(len > 0 ? len - 1 : 0);
    return out;
}

// Owned strings handed to C as const char* (NULL when unset).
class OptionalString {
public:
    void set(std::string_view value) { value_.assign(value.data(), value.size()), set_ = true; }
    const char *c_str() const { return set_ ? value_.c_str() : nullptr; }

private:
    std::string value_;
    bool set_ = false;
};

}  // namespace detail

class Client;

// A handle of an upload or an operation; released when destroyed (which never cancels it).
class Handle {
public:
    Handle() = default;
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    Handle(Handle &&other) noexcept : client_(other.client_), handle_(std::exchange(other.handle_, 0)) {}
    Handle &operator=(Handle &&other) noexcept {
        if (this != &other) {
            reset();
            client_ = other.client_;
            handle_ = std::exchange(other.handle_, 0);
        }
        return *this;
    }
    ~Handle() { reset(); }

    ClipsHandle get() const { return handle_; }
    bool valid() const { return handle_ != 0; }

    Expected<ClipsStatus> poll() const {
        ClipsStatus status;
        clips_status_init(&status);
        Result result = detail::check(clips_poll(client_, handle_, &status));
        if (!result) return result;
        return status;
    }
    // True once it completed, failed or was cancelled (or the handle is unusable).
    bool finished() const {
        auto status = poll();
        return !status || status.value().state == CLIPS_STATE_COMPLETED ||
               status.value().state == CLIPS_STATE_FAILED || status.value().state == CLIPS_STATE_CANCELLED;
    }
    Result cancel() { return detail::check(clips_cancel(client_, handle_)); }
    Expected<std::string> error_message() const {
        return detail::read_string([&](char *buf, size_t cap, size_t *len) {
            return clips_get_error_message(client_, handle_, buf, cap, len);
        });
    }
    // Forgets the handle now (its events stop); the work itself goes on.
    void reset() {
        if (handle_ != 0 && client_ != nullptr) clips_release(client_, handle_);
        handle_ = 0;
    }

protected:
    Handle(ClipsClient *client, ClipsHandle handle) : client_(client), handle_(handle) {}
    ClipsClient *client_ = nullptr;
    ClipsHandle handle_ = 0;
    friend class Client;
};

class Upload : public Handle {
public:
    Upload() = default;
    // Push mode: copy one block (exactly its length); CLIPS_E_WOULD_BLOCK means try again later.
    Result push_block(uint32_t block_num, const void *data, size_t len) {
        return detail::check(clips_push_block(client_, handle_, block_num, static_cast<const uint8_t *>(data), len));
    }
    Expected<std::string> clip_id() const {
        return detail::read_string(
            [&](char *buf, size_t cap, size_t *len) { return clips_get_clip_id(client_, handle_, buf, cap, len); });
    }
    Expected<std::vector<uint32_t>> missing_blocks() const {
        size_t count = 0;
        ClipsResult code = clips_missing_blocks(client_, handle_, nullptr, 0, &count);
        if (code < 0 && code != CLIPS_E_BUFFER_TOO_SMALL) return detail::check(code);
        std::vector<uint32_t> blocks(count);
        code = clips_missing_blocks(client_, handle_, blocks.data(), blocks.size(), &count);
        if (code < 0) return detail::check(code);
        blocks.resize(count);
        return blocks;
    }

private:
    using Handle::Handle;
    friend class Client;
};

class Operation : public Handle {
public:
    Operation() = default;
    // The normalised JSON result, once completed.
    Expected<std::string> result_json() const {
        return detail::read_string(
            [&](char *buf, size_t cap, size_t *len) { return clips_get_result_json(client_, handle_, buf, cap, len); });
    }
    // After get_clip completed.
    Expected<ClipsClipInfo> clip_info() const {
        ClipsClipInfo info;
        clips_clip_info_init(&info);
        Result result = detail::check(clips_get_clip_info(client_, handle_, &info));
        if (!result) return result;
        return info;
    }

private:
    using Handle::Handle;
    friend class Client;
};

// One HTTP attempt of the title's transport (see HttpTransport). A view: copying it copies the pointer.
class Exchange {
public:
    explicit Exchange(ClipsExchange *x) : x_(x) {}
    ClipsExchange *get() const { return x_; }
    Result set_status(uint32_t http_status) const { return detail::check(clips_exchange_set_status(x_, http_status)); }
    Result add_header(std::string_view name, std::string_view value) const {
        std::string n(name), v(value);
        return detail::check(clips_exchange_add_header(x_, n.c_str(), v.c_str()));
    }
    // Over the library's cap it fails with CLIPS_E_HTTP: abort the transfer and complete.
    Result write_body(const void *data, size_t len) const {
        return detail::check(clips_exchange_write_body(x_, static_cast<const uint8_t *>(data), len));
    }
    // CLIPS_TRANSPORT_*; after it the exchange is gone.
    Result complete(uint32_t outcome, std::string_view message = {}) const {
        std::string m(message);
        return detail::check(clips_exchange_complete(x_, outcome, message.empty() ? nullptr : m.c_str()));
    }

private:
    ClipsExchange *x_;
};

// The title's HTTP stack (consoles must use the platform's: xCurl, WinHTTP, IHttpRequest...). gameclips
// keeps scheduling, retries, Retry-After, redirects and the journal; the transport performs one attempt
// per exchange, follows no redirect, and completes every exchange exactly once, from any thread (inside
// send included). It must outlive every Client that uses it.
class HttpTransport {
public:
    virtual ~HttpTransport() = default;
    // CLIPS_OK: started. CLIPS_E_WOULD_BLOCK: at capacity, not started (no attempt is charged).
    // `request` and what it points to stay valid until the exchange completes.
    virtual ClipsResult send(Exchange exchange, const ClipsHttpRequest &request) noexcept = 0;
    // End it early; still complete it (CLIPS_TRANSPORT_CANCELLED). Ignore a cancel for one being completed.
    virtual void cancel(Exchange exchange) noexcept = 0;
};

class ClientOptions {
public:
    ClientOptions() { clips_client_options_init(&options_); }
    ClientOptions &metadata_base_url(std::string_view url) { return set(base_url_, url); }
    ClientOptions &service_version(std::string_view version) { return set(service_version_, version); }
    ClientOptions &journal_dir(std::string_view dir) { return set(journal_dir_, dir); }
    ClientOptions &ca_bundle_path(std::string_view path) { return set(ca_bundle_path_, path); }
    // Comma-separated hosts or *.domain wildcards uploads may go to, besides the metadata host.
    ClientOptions &upload_hosts(std::string_view hosts) { return set(upload_hosts_, hosts); }
    ClientOptions &worker_threads(uint32_t n) { return options_.worker_threads = n, *this; }
    ClientOptions &block_size(uint32_t bytes) { return options_.block_size = bytes, *this; }
    ClientOptions &max_buffered_bytes(uint64_t bytes) { return options_.max_buffered_bytes = bytes, *this; }
    ClientOptions &max_bytes_per_second(uint64_t bytes) { return options_.max_bytes_per_second = bytes, *this; }
    ClientOptions &request_timeout_ms(uint32_t ms) { return options_.request_timeout_ms = ms, *this; }
    ClientOptions &shutdown_timeout_ms(uint32_t ms) { return options_.shutdown_timeout_ms = ms, *this; }
    ClientOptions &flags(uint32_t flags) { return options_.flags = flags, *this; }
    ClientOptions &log(ClipsLogFn fn, void *user, uint32_t level) {
        options_.log_fn = fn, options_.log_user = user, options_.log_level = level;
        return *this;
    }
    ClientOptions &max_retry_delay_ms(uint32_t ms) { return options_.max_retry_delay_ms = ms, *this; }
    ClientOptions &give_up_after_ms(uint32_t ms) { return options_.give_up_after_ms = ms, *this; }
    // Every request through the title's own HTTP stack.
    ClientOptions &transport(HttpTransport &transport) {
        transport_.struct_size = sizeof transport_;
        transport_.user = &transport;
        transport_.send = [](void *user, ClipsExchange *x, const ClipsHttpRequest *request) -> ClipsResult {
            return static_cast<HttpTransport *>(user)->send(Exchange(x), *request);
        };
        transport_.cancel = [](void *user, ClipsExchange *x) { static_cast<HttpTransport *>(user)->cancel(Exchange(x)); };
        has_transport_ = true;
        return *this;
    }
    // Thread names "{prefix}-worker-N", their stack size (0: default) and CPUs (bit N: CPU N; 0: any).
    ClientOptions &threads(std::string_view name_prefix, uint32_t stack_size = 0, uint64_t affinity_mask = 0) {
        thread_prefix_.set(name_prefix);
        threads_.stack_size = stack_size;
        threads_.affinity_mask = affinity_mask;
        has_threads_ = true;
        return *this;
    }
    // Every thread the library needs comes from the title (its job system, FRunnableThread...).
    ClientOptions &start_thread(ClipsStartThreadFn start, void *user) {
        threads_.start_thread = start;
        threads_.user = user;
        has_threads_ = true;
        return *this;
    }
    // The C struct, its strings pointing into this object: valid while it lives unchanged.
    const ClipsClientOptions &c_options() {
        options_.metadata_base_url = base_url_.c_str();
        options_.service_version = service_version_.c_str();
        options_.journal_dir = journal_dir_.c_str();
        options_.ca_bundle_path = ca_bundle_path_.c_str();
        options_.upload_hosts = upload_hosts_.c_str();
        options_.transport = has_transport_ ? &transport_ : nullptr;
        threads_.struct_size = sizeof threads_;
        threads_.name_prefix = thread_prefix_.c_str();
        options_.threads = has_threads_ ? &threads_ : nullptr;
        return options_;
    }

private:
    ClientOptions &set(detail::OptionalString &field, std::string_view value) { return field.set(value), *this; }
    ClipsClientOptions options_;
    detail::OptionalString base_url_, service_version_, journal_dir_, ca_bundle_path_, upload_hosts_, thread_prefix_;
    ClipsTransport transport_{};
    ClipsThreadOptions threads_{};
    bool has_transport_ = false, has_threads_ = false;
};

class UploadOptions {
public:
    explicit UploadOptions(std::string_view scid) {
        clips_upload_options_init(&options_);
        scid_.set(scid);
    }
    // File mode: the library reads the file itself.
    UploadOptions &file(std::string_view path) { return set(file_path_, path); }
    // Push mode (no file): the total size; then push blocks.
    UploadOptions &file_size(uint64_t bytes) { return options_.file_size = bytes, *this; }
    UploadOptions &duration_seconds(uint32_t s) { return options_.duration_seconds = s, *this; }
    UploadOptions &date_recorded(std::string_view iso8601) { return set(date_recorded_, iso8601); }
    UploadOptions &greatest_moment_id(std::string_view id) { return set(greatest_moment_id_, id); }
    UploadOptions &user_caption(std::string_view caption) { return set(user_caption_, caption); }
    UploadOptions &session_ref(std::string_view ref) { return set(session_ref_, ref); }
    UploadOptions &clip_types(uint32_t flags) { return options_.clip_types = flags, *this; }
    UploadOptions &source(uint32_t source) { return options_.source = source, *this; }
    UploadOptions &visibility(uint32_t visibility) { return options_.visibility = visibility, *this; }
    UploadOptions &title_data(std::string_view data) { return set(title_data_, data); }
    UploadOptions &system_properties(std::string_view data) { return set(system_properties_, data); }
    UploadOptions &thumbnail_offset_ms(int32_t ms) {
        options_.thumbnail_source = CLIPS_THUMBNAIL_OFFSET;
        options_.thumbnail_offset_ms = ms;
        return *this;
    }
    UploadOptions &thumbnails(std::string_view large_path, std::string_view small_path) {
        options_.thumbnail_source = CLIPS_THUMBNAIL_UPLOAD;
        if (!large_path.empty()) large_thumbnail_.set(large_path);
        if (!small_path.empty()) small_thumbnail_.set(small_path);
        return *this;
    }
    UploadOptions &saved_by_user(bool saved) { return options_.saved_by_user = saved, *this; }
    const ClipsUploadOptions &c_options() {
        options_.scid = scid_.c_str();
        options_.file_path = file_path_.c_str();
        options_.date_recorded = date_recorded_.c_str();
        options_.greatest_moment_id = greatest_moment_id_.c_str();
        options_.user_caption = user_caption_.c_str();
        options_.session_ref = session_ref_.c_str();
        options_.title_data = title_data_.c_str();
        options_.system_properties = system_properties_.c_str();
        options_.large_thumbnail_path = large_thumbnail_.c_str();
        options_.small_thumbnail_path = small_thumbnail_.c_str();
        return options_;
    }

private:
    UploadOptions &set(detail::OptionalString &field, std::string_view value) { return field.set(value), *this; }
    ClipsUploadOptions options_;
    detail::OptionalString scid_, file_path_, date_recorded_, greatest_moment_id_, user_caption_, session_ref_,
        title_data_, system_properties_, large_thumbnail_, small_thumbnail_;
};

// A metadata change: only what is set is sent.
class MetadataUpdate {
public:
    MetadataUpdate() { clips_metadata_update_init(&update_); }
    MetadataUpdate &user_caption(std::string_view caption) { return caption_.set(caption), *this; }
    MetadataUpdate &visibility(uint32_t visibility) { return update_.visibility = visibility, *this; }
    MetadataUpdate &title_data(std::string_view data) { return title_data_.set(data), *this; }
    const ClipsMetadataUpdate &c_update() {
        update_.user_caption = caption_.c_str();
        update_.title_data = title_data_.c_str();
        return update_;
    }

private:
    ClipsMetadataUpdate update_;
    detail::OptionalString caption_, title_data_;
};

class Client {
public:
    // Creates a client; check ok() before use.
    static Expected<Client> create(ClientOptions options = {}) {
        ClipsClient *client = nullptr;
        Result result = detail::check(clips_client_create(&options.c_options(), &client));
        if (!result) return result;
        return Client(client);
    }

    Client() = default;
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    Client(Client &&other) noexcept : client_(std::exchange(other.client_, nullptr)) {}
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            destroy();
            client_ = std::exchange(other.client_, nullptr);
        }
        return *this;
    }
    // Waits at most the shutdown timeout. Release (destroy) every Upload and Operation first: a handle
    // that outlives its client is refused by the library, never dereferenced.
    ~Client() { destroy(); }

    ClipsClient *get() const { return client_; }

    Result set_authorization(std::string_view header_value) {
        std::string value(header_value);
        return detail::check(clips_set_authorization(client_, value.c_str()));
    }
    Result pause() { return detail::check(clips_pause(client_)); }
    /// Console suspend (PLM): returns within max_ms; nothing is sent until resume().
    Result suspend(uint32_t max_ms) { return detail::check(clips_suspend(client_, max_ms)); }
    Result set_network_online(bool online) {
        return detail::check(clips_set_network_status(client_, online ? CLIPS_NETWORK_ONLINE : CLIPS_NETWORK_OFFLINE));
    }
    Result resume() { return detail::check(clips_resume(client_)); }
    Result set_bandwidth_limit(uint64_t bytes_per_second) {
        return detail::check(clips_set_bandwidth_limit(client_, bytes_per_second));
    }

    Expected<Upload> begin_upload(UploadOptions options) {
        ClipsHandle handle = 0;
        Result result = detail::check(clips_begin_upload(client_, &options.c_options(), &handle));
        if (!result) return result;
        return Upload(client_, handle);
    }

    Expected<Operation> update_metadata(std::string_view scid, std::string_view clip_id, MetadataUpdate update) {
        std::string s(scid), id(clip_id);
        return start([&](ClipsHandle *op) {
            return clips_update_metadata(client_, s.c_str(), id.c_str(), &update.c_update(), op);
        });
    }
    // owner_xuid empty: one's own clip.
    Expected<Operation> rate_clip(std::string_view owner_xuid, std::string_view scid, std::string_view clip_id,
                                  uint32_t rating) {
        Names n(owner_xuid, scid, clip_id);
        return start([&](ClipsHandle *op) { return clips_rate_clip(client_, n.owner(), n.scid(), n.id(), rating, op); });
    }
    Expected<Operation> flag_clip(std::string_view owner_xuid, std::string_view scid, std::string_view clip_id) {
        Names n(owner_xuid, scid, clip_id);
        return start([&](ClipsHandle *op) { return clips_flag_clip(client_, n.owner(), n.scid(), n.id(), op); });
    }
    Expected<Operation> record_view(std::string_view owner_xuid, std::string_view scid, std::string_view clip_id) {
        Names n(owner_xuid, scid, clip_id);
        return start([&](ClipsHandle *op) { return clips_record_view(client_, n.owner(), n.scid(), n.id(), op); });
    }
    Expected<Operation> delete_clip(std::string_view scid, std::string_view clip_id) {
        Names n({}, scid, clip_id);
        return start([&](ClipsHandle *op) { return clips_delete_clip(client_, n.scid(), n.id(), op); });
    }
    Expected<Operation> get_clip(std::string_view owner_xuid, std::string_view scid, std::string_view clip_id) {
        Names n(owner_xuid, scid, clip_id);
        return start([&](ClipsHandle *op) { return clips_get_clip(client_, n.owner(), n.scid(), n.id(), op); });
    }
    // scid empty: every title; continuation_token empty: the first page.
    Expected<Operation> list_clips(std::string_view owner_xuid, std::string_view scid, uint32_t max_items,
                                   std::string_view continuation_token = {}) {
        Names n(owner_xuid, scid, continuation_token);
        return start([&](ClipsHandle *op) {
            return clips_list_clips(client_, n.owner(), n.scid(), max_items, n.id(), op);
        });
    }
    Expected<Operation> download_clip(std::string_view owner_xuid, std::string_view scid, std::string_view clip_id,
                                      std::string_view destination_path) {
        Names n(owner_xuid, scid, clip_id);
        std::string destination(destination_path);
        return start([&](ClipsHandle *op) {
            return clips_download_clip(client_, n.owner(), n.scid(), n.id(), destination.c_str(), op);
        });
    }

    // Calls f(const ClipsEvent&) for every queued event; returns how many. Call once per frame.
    template <typename F>
    size_t pump_events(F &&f) {
        ClipsEvent event;
        clips_event_init(&event);
        size_t count = 0;
        while (clips_next_event(client_, &event) == CLIPS_OK) {
            f(static_cast<const ClipsEvent &>(event));
            ++count;
        }
        return count;
    }

    static uint32_t abi_version() { return clips_abi_version(); }
    static const char *version() { return clips_version_string(); }

private:
    explicit Client(ClipsClient *client) : client_(client) {}

    void destroy() {
        if (client_ != nullptr) clips_client_destroy(std::exchange(client_, nullptr));
    }

    // The names an operation takes, as C strings; an empty view becomes NULL.
    class Names {
    public:
        Names(std::string_view owner, std::string_view scid, std::string_view id)
            : owner_(owner), scid_(scid), id_(id) {}
        const char *owner() const { return owner_.empty() ? nullptr : owner_.c_str(); }
        const char *scid() const { return scid_.empty() ? nullptr : scid_.c_str(); }
        const char *id() const { return id_.empty() ? nullptr : id_.c_str(); }

    private:
        std::string owner_, scid_, id_;
    };

    template <typename Start>
    Expected<Operation> start(Start &&start_call) {
        ClipsHandle op = 0;
        Result result = detail::check(start_call(&op));
        if (!result) return result;
        return Operation(client_, op);
    }

    ClipsClient *client_ = nullptr;
};

}  // namespace gameclips

#endif  // GAMECLIPS_HPP

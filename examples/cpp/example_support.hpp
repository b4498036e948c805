// What the C++ examples share: printing a refused call, and running a handle to its end as a game loop
// would (polling once per "frame", pumping events meanwhile). Header-only; copy it with an example.
#ifndef GAMECLIPS_EXAMPLE_SUPPORT_HPP
#define GAMECLIPS_EXAMPLE_SUPPORT_HPP

#include <chrono>
#include <cstdio>
#include <thread>

#include "gameclips.hpp"

namespace example {

// Prints why a call was refused; 1, what main returns then.
inline int fail(const char *what, const gameclips::Result &result) {
    std::fprintf(stderr, "%s: %s: %s\n", what, result.name(), result.message().c_str());
    return 1;
}

// Whether the handle completed; prints progress events when `show_progress`, and the error if it failed.
inline bool run_to_end(gameclips::Client &client, const gameclips::Handle &handle, bool show_progress = false) {
    for (;;) {
        client.pump_events([show_progress](const ClipsEvent &event) {
            if (show_progress && event.kind == CLIPS_EVENT_PROGRESS) {
                std::printf("progress: %llu/%llu\n", static_cast<unsigned long long>(event.bytes_done),
                            static_cast<unsigned long long>(event.bytes_total));
            }
        });
        auto status = handle.poll();
        if (!status) return false;
        if (status.value().state == CLIPS_STATE_COMPLETED) return true;
        if (status.value().state == CLIPS_STATE_FAILED || status.value().state == CLIPS_STATE_CANCELLED) {
            auto message = handle.error_message();
            std::fprintf(stderr, "failed: %s\n", message ? message.value().c_str() : "?");
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

}  // namespace example

#endif  // GAMECLIPS_EXAMPLE_SUPPORT_HPP

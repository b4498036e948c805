// Upload a clip and caption it with the C++ wrapper (gameclips.hpp): RAII, no exceptions, no RTTI.
//
//   upload METADATA_URL AUTHORIZATION FILE [SCID]
//
// Prints "clip id: <id>" and "caption: <caption>" and exits 0 on success; the error and 1 otherwise.
#include <cstdio>
#include <string>

#include "gameclips.hpp"
#include "example_support.hpp"


int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s METADATA_URL AUTHORIZATION FILE [SCID]\n", argv[0]);
        return 2;
    }
    const std::string scid = argc > 4 ? argv[4] : "00000000-0000-0000-0000-00006e7c2ab1";
    auto created = gameclips::Client::create(gameclips::ClientOptions().metadata_base_url(argv[1]).threads("cppclips"));
    if (!created) return example::fail("create", created.error());
    gameclips::Client client = std::move(created.value());
    if (auto result = client.set_authorization(argv[2]); !result) return example::fail("set_authorization", result);

    std::string clip_id;
    {
        auto upload = client.begin_upload(
            gameclips::UploadOptions(scid).file(argv[3]).duration_seconds(20).user_caption("from C++"));
        if (!upload) return example::fail("begin_upload", upload.error());
        if (!example::run_to_end(client, upload.value(), true)) return 1;
        auto id = upload.value().clip_id();
        if (!id) return example::fail("clip_id", id.error());
        clip_id = id.value();
    }  // the upload handle is released here
    std::printf("clip id: %s\n", clip_id.c_str());

    auto update = client.update_metadata(scid, clip_id, gameclips::MetadataUpdate().user_caption("captioned in C++"));
    if (!update) return example::fail("update_metadata", update.error());
    if (!example::run_to_end(client, update.value())) return 1;

    auto get = client.get_clip({}, scid, clip_id);
    if (!get) return example::fail("get_clip", get.error());
    if (!example::run_to_end(client, get.value())) return 1;
    auto json = get.value().result_json();
    if (!json) return example::fail("result_json", json.error());
    const bool captioned = json.value().find("\"userCaption\":\"captioned in C++\"") != std::string::npos;
    std::printf("caption: %s\n", captioned ? "captioned in C++" : json.value().c_str());

    // Errors come back as values: a rating of 9 is refused at once, with a message.
    auto bad = client.rate_clip({}, scid, clip_id, 9);
    std::printf("rating 9: %s (%s)\n", bad ? "accepted?!" : bad.error().name(), bad.error().message().c_str());
    return captioned && !bad ? 0 : 1;
}

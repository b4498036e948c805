#include "GameClipsSubsystem.h"

#include "gameclips.h"
#include "GameClipsPlatform.h"

DEFINE_LOG_CATEGORY_STATIC(LogGameClips, Log, All);

void UGameClipsSubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
    Super::Initialize(Collection);
    if (clips_abi_version() != CLIPS_ABI_VERSION)
    {
        UE_LOG(LogGameClips, Error, TEXT("gameclips: the library's ABI (%u) is not the header's (%u)"), clips_abi_version(), CLIPS_ABI_VERSION);
        return;
    }
    ClipsClientOptions Options;
    clips_client_options_init(&Options);
    const FTCHARToUTF8 Url(*MetadataBaseUrl);
    Options.metadata_base_url = MetadataBaseUrl.IsEmpty() ? nullptr : Url.Get();
    // Requests through the engine's HTTP module and workers on engine threads: on consoles that is the
    // platform's HTTP stack and thread API. (PC may use the library's own stack: bUseEngineHttp = false.)
    ClipsTransport Transport;
    ClipsThreadOptions Threads;
    if (bUseEngineHttp)
    {
        // Kept for the subsystem's life (never freed): a request's delegate may complete its exchange
        // after the client is gone.
        HttpTransport = new FGameClipsHttpTransport();
        Transport = HttpTransport->Make();
        Options.transport = &Transport;
        EngineThreads = new FGameClipsThreads();
        FMemory::Memzero(Threads);
        EngineThreads->Apply(Threads);
        Options.threads = &Threads;
    }
    const ClipsResult Result = clips_client_create(&Options, &Client);
    if (Result != CLIPS_OK)
    {
        UE_LOG(LogGameClips, Error, TEXT("gameclips: cannot create the client: %s"), *GetLastError());
        Client = nullptr;
    }
}

void UGameClipsSubsystem::Deinitialize()
{
    // Waits at most the shutdown timeout; uploads with a journal resume next time.
    clips_client_destroy(Client);
    Client = nullptr;
    if (HttpTransport)
    {
        // Exchanges gameclips gave up on are still completed by their requests' delegates.
        HttpTransport->CancelAll();
    }
    if (EngineThreads)
    {
        // clips_client_destroy waited for the entries; the threads end now.
        EngineThreads->JoinAll();
        delete EngineThreads;
        EngineThreads = nullptr;
    }
    Super::Deinitialize();
}

bool UGameClipsSubsystem::SetAuthorization(const FString& HeaderValue)
{
    const FTCHARToUTF8 Value(*HeaderValue);
    return clips_set_authorization(Client, Value.Get()) == CLIPS_OK;
}

int64 UGameClipsSubsystem::BeginUpload(const FString& FilePath, const FString& Caption, int32 DurationSeconds)
{
    const FTCHARToUTF8 ScidUtf8(*Scid), Path(*FilePath), CaptionUtf8(*Caption);
    ClipsUploadOptions Options;
    clips_upload_options_init(&Options);
    Options.scid = ScidUtf8.Get();
    Options.file_path = Path.Get();
    Options.user_caption = CaptionUtf8.Get();
    Options.duration_seconds = static_cast<uint32_t>(FMath::Max(DurationSeconds, 0));
    ClipsHandle Handle = 0;
    return clips_begin_upload(Client, &Options, &Handle) == CLIPS_OK ? static_cast<int64>(Handle) : 0;
}

int64 UGameClipsSubsystem::UpdateMetadata(const FString& GameClipId, const FString& Caption)
{
    const FTCHARToUTF8 ScidUtf8(*Scid), Id(*GameClipId), CaptionUtf8(*Caption);
    ClipsMetadataUpdate Update;
    clips_metadata_update_init(&Update);
    Update.user_caption = CaptionUtf8.Get();
    ClipsHandle Operation = 0;
    return clips_update_metadata(Client, ScidUtf8.Get(), Id.Get(), &Update, &Operation) == CLIPS_OK ? static_cast<int64>(Operation) : 0;
}

bool UGameClipsSubsystem::Cancel(int64 Handle)
{
    return clips_cancel(Client, static_cast<ClipsHandle>(Handle)) == CLIPS_OK;
}

FString UGameClipsSubsystem::GetLastError() const
{
    char Buffer[1024];
    size_t Len = 0;
    return clips_last_error_message(Buffer, sizeof Buffer, &Len) == CLIPS_OK ? FString(UTF8_TO_TCHAR(Buffer)) : FString();
}

FString UGameClipsSubsystem::ReadString(int64 Handle, bool bResultJson) const
{
    size_t Len = 0;
    const ClipsHandle H = static_cast<ClipsHandle>(Handle);
    auto Read = [&](char* Buf, size_t Cap) {
        return bResultJson ? clips_get_result_json(Client, H, Buf, Cap, &Len) : clips_get_error_message(Client, H, Buf, Cap, &Len);
    };
    if (Read(nullptr, 0) != CLIPS_E_BUFFER_TOO_SMALL || Len == 0) return FString();
    TArray<char> Buffer;
    Buffer.SetNumZeroed(static_cast<int32>(Len));
    return Read(Buffer.GetData(), Len) == CLIPS_OK ? FString(UTF8_TO_TCHAR(Buffer.GetData())) : FString();
}

void UGameClipsSubsystem::Tick(float DeltaTime)
{
    ClipsEvent Event;
    clips_event_init(&Event);
    // Drain the queue: progress of one upload is merged, so it never grows while the game is busy.
    while (clips_next_event(Client, &Event) == CLIPS_OK)
    {
        const int64 Handle = static_cast<int64>(Event.handle);
        switch (Event.kind)
        {
        case CLIPS_EVENT_PROGRESS:
            OnProgress.Broadcast(Handle, static_cast<int64>(Event.bytes_done), static_cast<int64>(Event.bytes_total));
            break;
        case CLIPS_EVENT_NEEDS_AUTH:
            OnNeedsAuthorization.Broadcast();
            break;
        case CLIPS_EVENT_COMPLETED:
        {
            char Id[128];
            size_t Len = 0;
            const bool bHaveId = clips_get_clip_id(Client, Event.handle, Id, sizeof Id, &Len) == CLIPS_OK;
            OnUploaded.Broadcast(Handle, bHaveId ? FString(UTF8_TO_TCHAR(Id)) : FString());
            clips_release(Client, Event.handle);
            break;
        }
        case CLIPS_EVENT_FAILED:
        case CLIPS_EVENT_CANCELLED:
            OnFailed.Broadcast(Handle, Event.result, ReadString(Handle, false));
            clips_release(Client, Event.handle);
            break;
        case CLIPS_EVENT_OP_COMPLETED:
        {
            const bool bSucceeded = Event.result == CLIPS_OK;
            OnOperationCompleted.Broadcast(Handle, bSucceeded, bSucceeded ? ReadString(Handle, true) : ReadString(Handle, false));
            clips_release(Client, Event.handle);
            break;
        }
        default:
            break;
        }
    }
}

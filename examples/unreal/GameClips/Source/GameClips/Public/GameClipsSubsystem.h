// UGameClipsSubsystem: owns one gameclips client per game instance, pumps its event queue every frame
// on the game thread, and broadcasts Blueprint-assignable delegates. The library never calls back from
// its worker threads, so every delegate fires on the game thread.
#pragma once

#include "CoreMinimal.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "Tickable.h"
#include "GameClipsSubsystem.generated.h"

struct ClipsClient;
class FGameClipsHttpTransport;
class FGameClipsThreads;

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FGameClipsUploaded, int64, Upload, const FString&, GameClipId);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FGameClipsProgress, int64, Upload, int64, BytesDone, int64, BytesTotal);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FGameClipsFailed, int64, Handle, int32, Result, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FGameClipsOperationCompleted, int64, Operation, bool, bSucceeded, const FString&, ResultJson);
DECLARE_DYNAMIC_MULTICAST_DELEGATE(FGameClipsNeedsAuthorization);

UCLASS(Config = Game)
class GAMECLIPS_API UGameClipsSubsystem : public UGameInstanceSubsystem, public FTickableGameObject
{
    GENERATED_BODY()

public:
    /** The metadata endpoint; empty: the real service. Use the emulator's URL in development. */
    UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "GameClips")
    FString MetadataBaseUrl;

    /** Send through the engine's HTTP module and run workers on engine threads (required on consoles). */
    UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "GameClips")
    bool bUseEngineHttp = true;

    /** The title's service configuration id. */
    UPROPERTY(Config, EditAnywhere, BlueprintReadOnly, Category = "GameClips")
    FString Scid;

    UPROPERTY(BlueprintAssignable, Category = "GameClips")
    FGameClipsUploaded OnUploaded;
    UPROPERTY(BlueprintAssignable, Category = "GameClips")
    FGameClipsProgress OnProgress;
    /** An upload failed or was cancelled (Result is a CLIPS_E_* code). */
    UPROPERTY(BlueprintAssignable, Category = "GameClips")
    FGameClipsFailed OnFailed;
    UPROPERTY(BlueprintAssignable, Category = "GameClips")
    FGameClipsOperationCompleted OnOperationCompleted;
    /** The service wants a fresh token: call SetAuthorization; nothing is lost meanwhile. */
    UPROPERTY(BlueprintAssignable, Category = "GameClips")
    FGameClipsNeedsAuthorization OnNeedsAuthorization;

    virtual void Initialize(FSubsystemCollectionBase& Collection) override;
    virtual void Deinitialize() override;

    /** The whole Authorization header value from the platform's sign-in ("XBL3.0 x=...;..."). */
    UFUNCTION(BlueprintCallable, Category = "GameClips")
    bool SetAuthorization(const FString& HeaderValue);

    /** Starts uploading a recorded clip file; returns its handle (0 when refused: see GetLastError). */
    UFUNCTION(BlueprintCallable, Category = "GameClips")
    int64 BeginUpload(const FString& FilePath, const FString& Caption, int32 DurationSeconds);

    /** Changes the caption of one of the player's clips; returns the operation's handle (0 when refused). */
    UFUNCTION(BlueprintCallable, Category = "GameClips")
    int64 UpdateMetadata(const FString& GameClipId, const FString& Caption);

    UFUNCTION(BlueprintCallable, Category = "GameClips")
    bool Cancel(int64 Handle);

    /** Why the last call on this thread was refused. */
    UFUNCTION(BlueprintPure, Category = "GameClips")
    FString GetLastError() const;

    // FTickableGameObject
    virtual void Tick(float DeltaTime) override;
    virtual bool IsTickable() const override { return Client != nullptr; }
    virtual TStatId GetStatId() const override { RETURN_QUICK_DECLARE_CYCLE_STAT(UGameClipsSubsystem, STATGROUP_Tickables); }

private:
    FString ReadString(int64 Handle, bool bResultJson) const;

    ClipsClient* Client = nullptr;
    FGameClipsHttpTransport* HttpTransport = nullptr;
    FGameClipsThreads* EngineThreads = nullptr;
};

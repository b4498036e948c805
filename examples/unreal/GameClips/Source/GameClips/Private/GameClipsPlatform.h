// What consoles need from the engine: gameclips' HTTP through Unreal's HTTP module (IHttpRequest, which
// is the platform's own stack on Xbox, PlayStation and Switch: xCurl/WinHTTP, the platform libraries),
// and its threads through FRunnableThread. Not compiled in this repository (no engine here): see the
// plugin README for what was verified.
#pragma once

#include "CoreMinimal.h"
#include "HAL/CriticalSection.h"
#include "HAL/Runnable.h"
#include "HAL/RunnableThread.h"
#include "Interfaces/IHttpRequest.h"

#include "gameclips.h"

/** ClipsTransport over FHttpModule: one IHttpRequest per exchange; gameclips keeps retries and redirects. */
class FGameClipsHttpTransport
{
public:
    /** The C transport to put in ClipsClientOptions.transport; this object must outlive the client. */
    ClipsTransport Make();

    /** Cancels what is still in flight (after clips_client_destroy, for late completions to arrive). */
    void CancelAll();

private:
    static ClipsResult Send(void* User, ClipsExchange* Exchange, const ClipsHttpRequest* Request);
    static void Cancel(void* User, ClipsExchange* Exchange);

    FCriticalSection Lock;
    TMap<ClipsExchange*, TSharedRef<IHttpRequest, ESPMode::ThreadSafe>> InFlight;
};

/** ClipsThreadOptions.start_thread over FRunnableThread: the library's workers are engine threads. */
class FGameClipsThreads
{
public:
    /** Fills start_thread and user; this object must outlive the client. */
    void Apply(ClipsThreadOptions& Options);

    /** After clips_client_destroy: every entry has returned; joins and frees the threads. */
    void JoinAll();

private:
    static ClipsResult Start(void* User, const char* Name, void (*Entry)(void*), void* Arg);

    FCriticalSection Lock;
    TArray<FRunnableThread*> Threads;
    TArray<FRunnable*> Runnables;
};

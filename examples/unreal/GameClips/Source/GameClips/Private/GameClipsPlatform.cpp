#include "GameClipsPlatform.h"

#include "HttpModule.h"
#include "Interfaces/IHttpResponse.h"

ClipsTransport FGameClipsHttpTransport::Make()
{
    ClipsTransport Transport;
    Transport.struct_size = sizeof(Transport);
    Transport.user = this;
    Transport.send = &FGameClipsHttpTransport::Send;
    Transport.cancel = &FGameClipsHttpTransport::Cancel;
    return Transport;
}

ClipsResult FGameClipsHttpTransport::Send(void* User, ClipsExchange* Exchange, const ClipsHttpRequest* Request)
{
    FGameClipsHttpTransport* Self = static_cast<FGameClipsHttpTransport*>(User);
    TSharedRef<IHttpRequest, ESPMode::ThreadSafe> Http = FHttpModule::Get().CreateRequest();
    Http->SetVerb(UTF8_TO_TCHAR(Request->method));
    Http->SetURL(UTF8_TO_TCHAR(Request->url));
    for (size_t i = 0; i < Request->header_count; ++i)
    {
        // Authorization is among them: never log these.
        Http->SetHeader(UTF8_TO_TCHAR(Request->headers[i].name), UTF8_TO_TCHAR(Request->headers[i].value));
    }
    if (Request->body_len > 0)
    {
        Http->SetContent(TArray<uint8>(Request->body, static_cast<int32>(Request->body_len)));
    }
    Http->SetTimeout(Request->timeout_ms / 1000.0f);
    Http->OnProcessRequestComplete().BindLambda(
        [Self, Exchange](FHttpRequestPtr Req, FHttpResponsePtr Response, bool bConnectedSuccessfully)
        {
            {
                FScopeLock Guard(&Self->Lock);
                Self->InFlight.Remove(Exchange);
            }
            if (!bConnectedSuccessfully || !Response.IsValid())
            {
                const bool bCancelled = Req.IsValid() && Req->GetStatus() == EHttpRequestStatus::Failed &&
                    Req->GetFailureReason() == EHttpFailureReason::Cancelled;
                const bool bNeverSent = Req.IsValid() && Req->GetFailureReason() == EHttpFailureReason::ConnectionError;
                clips_exchange_complete(Exchange,
                    bCancelled ? CLIPS_TRANSPORT_CANCELLED : bNeverSent ? CLIPS_TRANSPORT_NOT_SENT : CLIPS_TRANSPORT_FAILED,
                    "the engine's HTTP request failed");
                return;
            }
            clips_exchange_set_status(Exchange, static_cast<uint32_t>(Response->GetResponseCode()));
            for (const FString& Header : Response->GetAllHeaders())
            {
                FString Name, Value;
                if (Header.Split(TEXT(":"), &Name, &Value))
                {
                    clips_exchange_add_header(Exchange, TCHAR_TO_UTF8(*Name.TrimStartAndEnd()), TCHAR_TO_UTF8(*Value.TrimStartAndEnd()));
                }
            }
            const TArray<uint8>& Body = Response->GetContent();
            const ClipsResult Written = clips_exchange_write_body(Exchange, Body.GetData(), Body.Num());
            clips_exchange_complete(Exchange, Written == CLIPS_OK ? CLIPS_TRANSPORT_ANSWERED : CLIPS_TRANSPORT_FAILED, nullptr);
        });
    {
        FScopeLock Guard(&Self->Lock);
        Self->InFlight.Add(Exchange, Http);
    }
    if (!Http->ProcessRequest())
    {
        FScopeLock Guard(&Self->Lock);
        Self->InFlight.Remove(Exchange);
        Http->OnProcessRequestComplete().Unbind();
        return CLIPS_E_INTERNAL; // not started: gameclips counts it as never sent
    }
    return CLIPS_OK;
}

void FGameClipsHttpTransport::Cancel(void* User, ClipsExchange* Exchange)
{
    FGameClipsHttpTransport* Self = static_cast<FGameClipsHttpTransport*>(User);
    TSharedPtr<IHttpRequest, ESPMode::ThreadSafe> Http;
    {
        FScopeLock Guard(&Self->Lock);
        if (TSharedRef<IHttpRequest, ESPMode::ThreadSafe>* Found = Self->InFlight.Find(Exchange))
        {
            Http = *Found;
        }
    }
    if (Http.IsValid())
    {
        Http->CancelRequest(); // its completion delegate completes the exchange
    }
}

void FGameClipsHttpTransport::CancelAll()
{
    TArray<TSharedRef<IHttpRequest, ESPMode::ThreadSafe>> Pending;
    {
        FScopeLock Guard(&Lock);
        InFlight.GenerateValueArray(Pending);
    }
    for (const TSharedRef<IHttpRequest, ESPMode::ThreadSafe>& Http : Pending)
    {
        Http->CancelRequest();
    }
}

namespace
{
    /** Runs the library's entry on an engine thread. */
    class FGameClipsRunnable final : public FRunnable
    {
    public:
        FGameClipsRunnable(void (*InEntry)(void*), void* InArg) : Entry(InEntry), Arg(InArg) {}
        virtual uint32 Run() override
        {
            Entry(Arg);
            return 0;
        }

    private:
        void (*Entry)(void*);
        void* Arg;
    };
}

void FGameClipsThreads::Apply(ClipsThreadOptions& Options)
{
    Options.struct_size = sizeof(Options);
    Options.start_thread = &FGameClipsThreads::Start;
    Options.user = this;
}

ClipsResult FGameClipsThreads::Start(void* User, const char* Name, void (*Entry)(void*), void* Arg)
{
    FGameClipsThreads* Self = static_cast<FGameClipsThreads*>(User);
    FRunnable* Runnable = new FGameClipsRunnable(Entry, Arg);
    // Background priority: uploads must never take time from the game thread or the render thread.
    FRunnableThread* Thread = FRunnableThread::Create(Runnable, UTF8_TO_TCHAR(Name), 0, TPri_BelowNormal);
    if (Thread == nullptr)
    {
        delete Runnable;
        return CLIPS_E_INTERNAL; // not started: the client is not created, Entry never runs
    }
    FScopeLock Guard(&Self->Lock);
    Self->Threads.Add(Thread);
    Self->Runnables.Add(Runnable);
    return CLIPS_OK;
}

void FGameClipsThreads::JoinAll()
{
    FScopeLock Guard(&Lock);
    for (FRunnableThread* Thread : Threads)
    {
        Thread->WaitForCompletion();
        delete Thread;
    }
    for (FRunnable* Runnable : Runnables)
    {
        delete Runnable;
    }
    Threads.Reset();
    Runnables.Reset();
}

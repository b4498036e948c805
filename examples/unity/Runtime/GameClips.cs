// GameClips for Unity: P/Invoke bindings over the gameclips C API (include/gameclips.h).
//
// - Blittable structs only (strings go in as UTF-8 copies the library reads during the call), so the
//   bindings work the same under Mono and IL2CPP.
// - No callback ever comes from a native thread: the game polls handles and the event queue from
//   Update(), which is why the native log callback is not bound here.
// - The client is a SafeHandle: it is destroyed once, even if Dispose is forgotten.
// - Calls that are refused at once (bad arguments, dead handles) throw GameClipsException with the
//   library's message; how an upload or operation ends is a Status with a ClipsResult.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace GameClips
{
    public enum ClipsResult
    {
        Ok = 0,
        Pending = 1,
        NoEvent = 2,
        InvalidArgument = -1,
        InvalidHandle = -2,
        WouldBlock = -3,
        BufferTooSmall = -4,
        WrongState = -5,
        Http = -6,
        Network = -7,
        Auth = -8,
        Cancelled = -9,
        Io = -10,
        Shutdown = -11,
        IncompatibleVersion = -12,
        Quota = -13,
        OutOfMemory = -14,
        Internal = -100,
    }

    public enum State : uint
    {
        Creating = 1,
        Uploading = 2,
        WaitingForData = 3,
        NeedsAuth = 4,
        Paused = 5,
        Retrying = 6,
        Completed = 7,
        Failed = 8,
        Cancelled = 9,
        Running = 10,
    }

    public enum EventKind : uint
    {
        ClipCreated = 1,
        Progress = 2,
        NeedsAuth = 3,
        Completed = 4,
        Failed = 5,
        Cancelled = 6,
        OperationCompleted = 7,
    }

    public enum Visibility : uint
    {
        Unchanged = 0,
        Default = 1,
        Owner = 2,
        Title = 3,
        Public = 4,
    }

    /// <summary>A call the library refused at once; Result says why, Message explains.</summary>
    public sealed class GameClipsException : Exception
    {
        public ClipsResult Result { get; }

        public GameClipsException(ClipsResult result, string message) : base(result + ": " + message)
        {
            Result = result;
        }
    }

    /// <summary>A snapshot of an upload or operation (ClipsStatus).</summary>
    public struct Status
    {
        public State State;
        public ClipsResult Result;
        public uint HttpStatus;
        public ulong BytesTotal, BytesDone;
        public uint Retries, RetryInMs;
        /// <summary>Bytes of blocks sent that no accepted block carried.</summary>
        public ulong BytesWasted;

        public bool IsFinished
        {
            get { return State == State.Completed || State == State.Failed || State == State.Cancelled; }
        }
    }

    /// <summary>One queued event (ClipsEvent).</summary>
    public struct ClipsEventInfo
    {
        public EventKind Kind;
        public ulong Handle;
        public ClipsResult Result;
        public uint HttpStatus;
        public ulong BytesDone, BytesTotal;
    }

    /// <summary>Settings of an upload. Leave FilePath null and set FileSize for push mode.</summary>
    public sealed class UploadSettings
    {
        public string Scid;
        public string FilePath;
        public ulong FileSize;
        public uint DurationSeconds;
        public string UserCaption;
        public string GreatestMomentId;
        public string TitleData;
        public Visibility Visibility;
    }

    /// <summary>The client's native handle; destroys the client when released.</summary>
    public sealed class ClientSafeHandle : SafeHandle
    {
        public ClientSafeHandle() : base(IntPtr.Zero, true) { }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }

        protected override bool ReleaseHandle()
        {
            Native.clips_client_destroy(handle);
            return true;
        }
    }

    /// <summary>
    /// One signed-in user's connection to the GameClips service. Create it once, call Pump-style
    /// methods (Poll, NextEvent) from Update(), Dispose it on shutdown.
    /// </summary>
    public sealed class GameClipsClient : IDisposable
    {
        private readonly ClientSafeHandle client;

        public GameClipsClient(string metadataBaseUrl = null)
        {
            var options = new Native.ClientOptions();
            Native.clips_client_options_init_sized(ref options, Native.SizeOf<Native.ClientOptions>());
            using (var url = new Utf8(metadataBaseUrl))
            {
                options.metadata_base_url = url.Pointer;
                Check(Native.clips_client_create(ref options, out client));
            }
        }

        public void Dispose()
        {
            client.Dispose();
        }

        /// <summary>The whole Authorization header value; uploads waiting for one continue.</summary>
        public void SetAuthorization(string headerValue)
        {
            using (var value = new Utf8(headerValue))
                Check(Native.clips_set_authorization(client, value.Pointer));
        }

        public void Pause() { Check(Native.clips_pause(client)); }
        /// <summary>The title is suspended (console PLM, OnApplicationPause): returns within maxMs.</summary>
        public void Suspend(uint maxMs) { Check(Native.clips_suspend(client, maxMs)); }
        /// <summary>What the platform says about the network (Application.internetReachability).</summary>
        public void SetNetworkOnline(bool online) { Check(Native.clips_set_network_status(client, online ? 1u : 0u)); }
        public void Resume() { Check(Native.clips_resume(client)); }

        public ulong BeginUpload(UploadSettings settings)
        {
            var options = new Native.UploadOptions();
            Native.clips_upload_options_init_sized(ref options, Native.SizeOf<Native.UploadOptions>());
            using (var scid = new Utf8(settings.Scid))
            using (var path = new Utf8(settings.FilePath))
            using (var caption = new Utf8(settings.UserCaption))
            using (var moment = new Utf8(settings.GreatestMomentId))
            using (var titleData = new Utf8(settings.TitleData))
            {
                options.scid = scid.Pointer;
                options.file_path = path.Pointer;
                options.file_size = settings.FileSize;
                options.duration_seconds = settings.DurationSeconds;
                options.user_caption = caption.Pointer;
                options.greatest_moment_id = moment.Pointer;
                options.title_data = titleData.Pointer;
                options.visibility = (uint)settings.Visibility;
                ulong handle;
                Check(Native.clips_begin_upload(client, ref options, out handle));
                return handle;
            }
        }

        /// <summary>Push mode: copies one block (exactly its length). False: the budget is full, retry later.</summary>
        public bool PushBlock(ulong upload, uint blockNum, byte[] data, int length)
        {
            if (data == null || length < 0 || length > data.Length)
                throw new ArgumentException("length must be within data");
            var result = (ClipsResult)Native.clips_push_block(client, upload, blockNum, data, (UIntPtr)length);
            if (result == ClipsResult.WouldBlock) return false;
            Check((int)result);
            return true;
        }

        public Status Poll(ulong handle)
        {
            var status = new Native.Status();
            Native.clips_status_init_sized(ref status, Native.SizeOf<Native.Status>());
            Check(Native.clips_poll(client, handle, ref status));
            return new Status
            {
                State = (State)status.state,
                Result = (ClipsResult)status.result,
                HttpStatus = status.http_status,
                BytesTotal = status.bytes_total,
                BytesDone = status.bytes_acked,
                Retries = status.retries,
                RetryInMs = status.retry_in_ms,
                BytesWasted = status.bytes_wasted,
            };
        }

        /// <summary>The next queued event, if any. Call it in a loop once per frame.</summary>
        public bool NextEvent(out ClipsEventInfo info)
        {
            var native = new Native.Event();
            Native.clips_event_init_sized(ref native, Native.SizeOf<Native.Event>());
            var result = Native.clips_next_event(client, ref native);
            info = new ClipsEventInfo
            {
                Kind = (EventKind)native.kind,
                Handle = native.handle,
                Result = (ClipsResult)native.result,
                HttpStatus = native.http_status,
                BytesDone = native.bytes_done,
                BytesTotal = native.bytes_total,
            };
            if (result == (int)ClipsResult.NoEvent) return false;
            Check(result);
            return true;
        }

        public string GetClipId(ulong upload)
        {
            return ReadString((byte[] buf, UIntPtr cap, out UIntPtr len) => Native.clips_get_clip_id(client, upload, buf, cap, out len));
        }

        public string GetErrorMessage(ulong handle)
        {
            return ReadString((byte[] buf, UIntPtr cap, out UIntPtr len) => Native.clips_get_error_message(client, handle, buf, cap, out len));
        }

        /// <summary>The normalised JSON result of a completed operation.</summary>
        public string GetResultJson(ulong operation)
        {
            return ReadString((byte[] buf, UIntPtr cap, out UIntPtr len) => Native.clips_get_result_json(client, operation, buf, cap, out len));
        }

        public void Cancel(ulong handle) { Check(Native.clips_cancel(client, handle)); }

        /// <summary>Forgets the handle (never cancels).</summary>
        public void Release(ulong handle) { Check(Native.clips_release(client, handle)); }

        /// <summary>Changes one of the player's clips; null / Unchanged fields stay as they are.</summary>
        public ulong UpdateMetadata(string scid, string clipId, string userCaption, Visibility visibility = Visibility.Unchanged, string titleData = null)
        {
            var update = new Native.MetadataUpdate();
            Native.clips_metadata_update_init_sized(ref update, Native.SizeOf<Native.MetadataUpdate>());
            using (var s = new Utf8(scid))
            using (var id = new Utf8(clipId))
            using (var caption = new Utf8(userCaption))
            using (var data = new Utf8(titleData))
            {
                update.user_caption = caption.Pointer;
                update.visibility = (uint)visibility;
                update.title_data = data.Pointer;
                ulong op;
                Check(Native.clips_update_metadata(client, s.Pointer, id.Pointer, ref update, out op));
                return op;
            }
        }

        /// <summary>ownerXuid null: the player's own clip.</summary>
        public ulong RateClip(string ownerXuid, string scid, string clipId, uint rating)
        {
            using (var owner = new Utf8(ownerXuid))
            using (var s = new Utf8(scid))
            using (var id = new Utf8(clipId))
            {
                ulong op;
                Check(Native.clips_rate_clip(client, owner.Pointer, s.Pointer, id.Pointer, rating, out op));
                return op;
            }
        }

        public ulong GetClip(string ownerXuid, string scid, string clipId)
        {
            using (var owner = new Utf8(ownerXuid))
            using (var s = new Utf8(scid))
            using (var id = new Utf8(clipId))
            {
                ulong op;
                Check(Native.clips_get_clip(client, owner.Pointer, s.Pointer, id.Pointer, out op));
                return op;
            }
        }

        public ulong DeleteClip(string scid, string clipId)
        {
            using (var s = new Utf8(scid))
            using (var id = new Utf8(clipId))
            {
                ulong op;
                Check(Native.clips_delete_clip(client, s.Pointer, id.Pointer, out op));
                return op;
            }
        }

        public ulong ListClips(string ownerXuid, string scid, uint maxItems, string continuationToken = null)
        {
            using (var owner = new Utf8(ownerXuid))
            using (var s = new Utf8(scid))
            using (var token = new Utf8(continuationToken))
            {
                ulong op;
                Check(Native.clips_list_clips(client, owner.Pointer, s.Pointer, maxItems, token.Pointer, out op));
                return op;
            }
        }

        public static uint AbiVersion { get { return Native.clips_abi_version(); } }

        private delegate int StringGetter(byte[] buf, UIntPtr cap, out UIntPtr len);

        private static string ReadString(StringGetter getter)
        {
            UIntPtr len;
            var result = getter(null, UIntPtr.Zero, out len);
            if (result != (int)ClipsResult.BufferTooSmall) Check(result);
            var buf = new byte[(int)len];
            Check(getter(buf, (UIntPtr)buf.Length, out len));
            return Encoding.UTF8.GetString(buf, 0, Math.Max(0, (int)len - 1));
        }

        private static void Check(int result)
        {
            if (result >= 0) return;
            throw new GameClipsException((ClipsResult)result, LastErrorMessage());
        }

        private static string LastErrorMessage()
        {
            var buf = new byte[1024];
            UIntPtr len;
            if (Native.clips_last_error_message(buf, (UIntPtr)buf.Length, out len) != 0) return "";
            return Encoding.UTF8.GetString(buf, 0, Math.Max(0, (int)len - 1));
        }

        /// <summary>A NUL-terminated UTF-8 copy of a string in native memory (null stays NULL).</summary>
        private struct Utf8 : IDisposable
        {
            public readonly IntPtr Pointer;

            public Utf8(string value)
            {
                if (value == null)
                {
                    Pointer = IntPtr.Zero;
                    return;
                }
                var bytes = Encoding.UTF8.GetBytes(value);
                Pointer = Marshal.AllocHGlobal(bytes.Length + 1);
                Marshal.Copy(bytes, 0, Pointer, bytes.Length);
                Marshal.WriteByte(Pointer, bytes.Length, 0);
            }

            public void Dispose()
            {
                if (Pointer != IntPtr.Zero) Marshal.FreeHGlobal(Pointer);
            }
        }
    }

    /// <summary>The C API, one to one. Structs mirror gameclips.h field for field.</summary>
    internal static class Native
    {
        // iOS and consoles link the library statically; everywhere else it is the "gameclips" plugin.
#if (UNITY_IOS || UNITY_SWITCH || UNITY_PS4 || UNITY_PS5) && !UNITY_EDITOR
        private const string Library = "__Internal";
#else
        private const string Library = "gameclips";
#endif

        [StructLayout(LayoutKind.Sequential)]
        internal struct ClientOptions
        {
            public uint struct_size;
            public IntPtr metadata_base_url, service_version;
            public uint worker_threads, block_size;
            public ulong max_buffered_bytes, max_bytes_per_second;
            public uint request_timeout_ms, shutdown_timeout_ms;
            public IntPtr journal_dir, ca_bundle_path;
            public uint flags;
            public IntPtr log_fn, log_user;
            public uint log_level;
            public IntPtr upload_hosts;
            // The _init_sized calls are told this struct's size, so the library never writes past it.
            public IntPtr transport, threads;
            public uint max_retry_delay_ms, give_up_after_ms;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct UploadOptions
        {
            public uint struct_size;
            public IntPtr scid, file_path;
            public ulong file_size;
            public uint duration_seconds;
            public IntPtr date_recorded, greatest_moment_id, user_caption, session_ref;
            public uint clip_types, source, visibility;
            public IntPtr title_data, system_properties, users_in_session;
            public UIntPtr users_in_session_count;
            public uint thumbnail_source;
            public int thumbnail_offset_ms;
            public IntPtr large_thumbnail_path, small_thumbnail_path;
            public byte saved_by_user; // C bool: 0 or 1
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Status
        {
            public uint struct_size, state;
            public int result;
            public uint http_status;
            public ulong bytes_total, bytes_acked;
            public uint blocks_total, blocks_acked, retries, retry_in_ms;
            public ulong bytes_wasted;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct Event
        {
            public uint struct_size, kind;
            public ulong handle;
            public int result;
            public uint http_status;
            public ulong bytes_done, bytes_total;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct MetadataUpdate
        {
            public uint struct_size;
            public IntPtr user_caption;
            public uint visibility;
            public IntPtr title_data;
        }

        [DllImport(Library)] internal static extern uint clips_abi_version();
        [DllImport(Library)] internal static extern int clips_last_error_message(byte[] buf, UIntPtr cap, out UIntPtr len);
        /// <summary>The size the library is told a struct has: it writes no byte past it.</summary>
        internal static UIntPtr SizeOf<T>() where T : struct { return (UIntPtr)Marshal.SizeOf(typeof(T)); }

        [DllImport(Library)] internal static extern int clips_client_options_init_sized(ref ClientOptions o, UIntPtr size);
        [DllImport(Library)] internal static extern int clips_client_create(ref ClientOptions o, out ClientSafeHandle client);
        [DllImport(Library)] internal static extern void clips_client_destroy(IntPtr client);
        [DllImport(Library)] internal static extern int clips_set_authorization(ClientSafeHandle c, IntPtr value);
        [DllImport(Library)] internal static extern int clips_pause(ClientSafeHandle c);
        [DllImport(Library)] internal static extern int clips_suspend(ClientSafeHandle c, uint maxMs);
        [DllImport(Library)] internal static extern int clips_set_network_status(ClientSafeHandle c, uint status);
        [DllImport(Library)] internal static extern int clips_resume(ClientSafeHandle c);
        [DllImport(Library)] internal static extern int clips_upload_options_init_sized(ref UploadOptions o, UIntPtr size);
        [DllImport(Library)] internal static extern int clips_begin_upload(ClientSafeHandle c, ref UploadOptions o, out ulong upload);
        [DllImport(Library)] internal static extern int clips_push_block(ClientSafeHandle c, ulong upload, uint blockNum, byte[] data, UIntPtr len);
        [DllImport(Library)] internal static extern int clips_cancel(ClientSafeHandle c, ulong handle);
        [DllImport(Library)] internal static extern int clips_release(ClientSafeHandle c, ulong handle);
        [DllImport(Library)] internal static extern int clips_status_init_sized(ref Status s, UIntPtr size);
        [DllImport(Library)] internal static extern int clips_poll(ClientSafeHandle c, ulong handle, ref Status s);
        [DllImport(Library)] internal static extern int clips_event_init_sized(ref Event e, UIntPtr size);
        [DllImport(Library)] internal static extern int clips_next_event(ClientSafeHandle c, ref Event e);
        [DllImport(Library)] internal static extern int clips_get_clip_id(ClientSafeHandle c, ulong handle, byte[] buf, UIntPtr cap, out UIntPtr len);
        [DllImport(Library)] internal static extern int clips_get_error_message(ClientSafeHandle c, ulong handle, byte[] buf, UIntPtr cap, out UIntPtr len);
        [DllImport(Library)] internal static extern int clips_get_result_json(ClientSafeHandle c, ulong op, byte[] buf, UIntPtr cap, out UIntPtr len);
        [DllImport(Library)] internal static extern int clips_metadata_update_init_sized(ref MetadataUpdate m, UIntPtr size);
        [DllImport(Library)] internal static extern int clips_update_metadata(ClientSafeHandle c, IntPtr scid, IntPtr clipId, ref MetadataUpdate m, out ulong op);
        [DllImport(Library)] internal static extern int clips_rate_clip(ClientSafeHandle c, IntPtr owner, IntPtr scid, IntPtr clipId, uint rating, out ulong op);
        [DllImport(Library)] internal static extern int clips_get_clip(ClientSafeHandle c, IntPtr owner, IntPtr scid, IntPtr clipId, out ulong op);
        [DllImport(Library)] internal static extern int clips_delete_clip(ClientSafeHandle c, IntPtr scid, IntPtr clipId, out ulong op);
        [DllImport(Library)] internal static extern int clips_list_clips(ClientSafeHandle c, IntPtr owner, IntPtr scid, uint maxItems, IntPtr token, out ulong op);
    }
}

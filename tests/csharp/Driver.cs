// Console driver for the Unity bindings (examples/unity/Runtime/GameClips.cs), run under mono by
// tests/engine_integrations.rs:  mono GameClipsDriver.exe METADATA_URL AUTHORIZATION FILE
// Uploads FILE, captions the clip, reads it back; prints "clip id: ..." and "caption: ...".
using System;
using System.Threading;
using GameClips;

public static class Driver
{
    const string Scid = "00000000-0000-0000-0000-00006e7c2ab1";

    // What a MonoBehaviour does across frames in Update(): drain events, poll, until the handle ends.
    static Status RunToEnd(GameClipsClient client, ulong handle)
    {
        while (true)
        {
            ClipsEventInfo e;
            while (client.NextEvent(out e))
            {
                if (e.Kind == EventKind.NeedsAuth) Console.WriteLine("needs a new token");
            }
            var status = client.Poll(handle);
            if (status.IsFinished) return status;
            Thread.Sleep(10);
        }
    }

    public static int Main(string[] args)
    {
        if (args.Length < 3)
        {
            Console.Error.WriteLine("usage: GameClipsDriver.exe METADATA_URL AUTHORIZATION FILE");
            return 2;
        }
        using (var client = new GameClipsClient(args[0]))
        {
            client.SetAuthorization(args[1]);
            var upload = client.BeginUpload(new UploadSettings { Scid = Scid, FilePath = args[2], DurationSeconds = 15, UserCaption = "from C#" });
            var status = RunToEnd(client, upload);
            if (status.State != State.Completed)
            {
                Console.Error.WriteLine("upload failed: " + status.Result + ": " + client.GetErrorMessage(upload));
                return 1;
            }
            var clipId = client.GetClipId(upload);
            client.Release(upload);
            Console.WriteLine("clip id: " + clipId);

            var update = client.UpdateMetadata(Scid, clipId, "captioned from C#", Visibility.Public);
            status = RunToEnd(client, update);
            if (status.Result != ClipsResult.Ok)
            {
                Console.Error.WriteLine("update failed: " + client.GetErrorMessage(update));
                return 1;
            }
            var get = client.GetClip(null, Scid, clipId);
            RunToEnd(client, get);
            var json = client.GetResultJson(get);
            var captioned = json.Contains("\"userCaption\":\"captioned from C#\"");
            Console.WriteLine("caption: " + (captioned ? "captioned from C#" : json));

            try
            {
                client.RateClip(null, Scid, clipId, 9);
                Console.WriteLine("bad rating: accepted?!");
                return 1;
            }
            catch (GameClipsException e)
            {
                Console.WriteLine("bad rating: " + e.Result + " (" + e.Message + ")");
            }
            return captioned ? 0 : 1;
        }
    }
}

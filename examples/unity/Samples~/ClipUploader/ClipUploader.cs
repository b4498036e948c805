// Uploads a clip and shows its progress. Everything happens on the main thread in Update(): the native
// library does the I/O on its own threads and never calls back into managed code.
using GameClips;
using UnityEngine;

public class ClipUploader : MonoBehaviour
{
    [Tooltip("The GameClips metadata endpoint; the local emulator during development.")]
    public string metadataBaseUrl = "http://127.0.0.1:8080";
    [Tooltip("Your title's service configuration id.")]
    public string scid = "00000000-0000-0000-0000-00006e7c2ab1";
    [Tooltip("The clip file the game recorded.")]
    public string clipPath;

    GameClipsClient client;
    ulong upload;
    Status status;

    void Start()
    {
        client = new GameClipsClient(metadataBaseUrl);
        // Your sign-in flow provides this ("XBL3.0 x=...;..."); refresh it on EventKind.NeedsAuth.
        client.SetAuthorization(GetAuthorizationFromSignIn());
        upload = client.BeginUpload(new UploadSettings { Scid = scid, FilePath = clipPath, UserCaption = "Best jump" });
    }

    void Update()
    {
        if (client == null) return;
        ClipsEventInfo e;
        while (client.NextEvent(out e))
        {
            if (e.Kind == EventKind.NeedsAuth) client.SetAuthorization(GetAuthorizationFromSignIn());
            if (e.Kind == EventKind.Completed) Debug.Log("Clip uploaded: " + client.GetClipId(e.Handle));
            if (e.Kind == EventKind.Failed) Debug.LogError("Upload failed: " + client.GetErrorMessage(e.Handle));
        }
        if (upload != 0) status = client.Poll(upload);
    }

    void OnGUI()
    {
        if (upload == 0) return;
        var percent = status.BytesTotal == 0 ? 0 : 100.0 * status.BytesDone / status.BytesTotal;
        GUILayout.Label(string.Format("{0}: {1:0}%", status.State, percent));
    }

    void OnApplicationPause(bool paused)
    {
        if (client == null) return;
        if (paused) client.Pause(); else client.Resume();
    }

    void OnDestroy()
    {
        if (client != null) client.Dispose();  // returns within the shutdown timeout
        client = null;
    }

    string GetAuthorizationFromSignIn()
    {
        // Placeholder: development tokens come from `gameclips-emulator token --xuid N`.
        return System.Environment.GetEnvironmentVariable("GAMECLIPS_TOKEN") ?? "";
    }
}

using Grpc.Core;
using RegionChat.Client;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Cli.Commands;

/// <summary>
/// The multi-turn chat of `regionchat chat` without a question: every stdin line is a turn of one session. Lines that
/// start with '/' change what the next turn is about (/image FILE, /box x0,y0,x1,y1, /mask, /polygon, /scribble, /rle,
/// /region, /whole), /new starts a new session, /quit (or end of input) ends. A new image or region is sent once, with
/// the next question; later turns continue on the session's history. A failed turn prints its error line and the chat
/// goes on; the exit code is then 1. A mistyped /command only prints an error line.
/// </summary>
internal sealed class InteractiveChat(ChatConversation conversation, RegionChatClient client, TextReader input, TextWriter error, bool showPrompt)
{
    const string Help = "commands: /image FILE · /box x0,y0,x1,y1 · /mask FILE · /polygon x,y,… · /scribble x,y,…;width · " +
                        "/rle FILE.json · /region JSON · /whole · /new (new session) · /session · /quit";

    string? pendingImage, lastImage;
    RegionDescription? pendingRegion;

    public async Task<int> RunAsync(string? imagePath, RegionDescription? region, CancellationToken ct)
    {
        pendingImage = imagePath;
        pendingRegion = region;
        bool anyFailed = false;
        if (showPrompt) error.WriteLine($"interactive chat; {Help}");
        while (!ct.IsCancellationRequested)
        {
            if (showPrompt) error.Write("> ");
            string? line = await input.ReadLineAsync(ct).ConfigureAwait(false);
            if (line == null) break;
            line = line.Trim();
            if (line.Length == 0) continue;
            if (line.StartsWith('/'))
            {
                if (Command(line)) break;
                continue;
            }
            anyFailed |= !await TurnAsync(line, ct).ConfigureAwait(false);
        }
        if (conversation.SessionId.Length > 0) error.WriteLine($"session {conversation.SessionId} (continue it with --session {conversation.SessionId})");
        return anyFailed ? 1 : 0;
    }

    async Task<bool> TurnAsync(string text, CancellationToken ct)
    {
        try
        {
            PbV1.ImageInput? image = pendingImage == null ? null : await ServerArguments.ImageInputAsync(client, pendingImage, ct).ConfigureAwait(false);
            await conversation.SendAsync(text, image, pendingRegion == null ? null : ImageRegion.From(pendingRegion), ct).ConfigureAwait(false);
            if (pendingImage != null) lastImage = pendingImage;
            pendingImage = null;
            pendingRegion = null;
            return true;
        }
        catch (RegionChatException e)
        {
            error.WriteLine(ServerArguments.ErrorLine(e));
            if (e.StatusCode == StatusCode.NotFound && conversation.SessionId.Length > 0 && e.Detail.Contains(conversation.SessionId, StringComparison.Ordinal))
            {
                // The session is gone (expired or evicted): the next line starts a new one, showing the image again.
                conversation.SessionId = "";
                pendingImage ??= lastImage;
                error.WriteLine("the next turn starts a new session");
            }
            return false;
        }
        catch (ArgumentException e)
        {
            error.WriteLine($"error: {e.Message}");
            return false;
        }
    }

    /// <summary>Handles a /command (a bad one prints an error line: it is not a failed call); returns whether to quit.</summary>
    bool Command(string line)
    {
        int space = line.IndexOf(' ');
        string name = (space < 0 ? line : line[..space]).ToLowerInvariant();
        string arg = space < 0 ? "" : line[(space + 1)..].Trim();
        try
        {
            switch (name)
            {
                case "/quit" or "/exit":
                    return true;
                case "/help" or "/?":
                    error.WriteLine(Help);
                    return false;
                case "/session":
                    error.WriteLine(conversation.SessionId.Length == 0 ? "no session yet" : $"session {conversation.SessionId}");
                    return false;
                case "/new":
                    conversation.SessionId = "";
                    pendingImage ??= lastImage;
                    error.WriteLine("the next turn starts a new session");
                    return false;
                case "/image":
                    if (arg.Length == 0) throw new ArgumentException("/image needs a file");
                    if (!File.Exists(arg)) throw new ArgumentException($"/image: file '{arg}' not found");
                    pendingImage = Path.GetFullPath(arg);
                    error.WriteLine($"image {arg} goes with the next question");
                    return false;
                case "/whole":
                    pendingRegion = RegionDescription.Whole.Instance;
                    error.WriteLine("the whole image goes with the next question");
                    return false;
                case "/box" or "/mask" or "/polygon" or "/scribble" or "/rle" or "/region":
                    if (arg.Length == 0) throw new ArgumentException($"{name} needs a value");
                    pendingRegion = RegionArguments.Parse(name[1..], arg, spelling: "/");
                    error.WriteLine($"{name[1..]} region goes with the next question");
                    return false;
                default:
                    error.WriteLine($"error: unknown command {name}; {Help}");
                    return false;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidRegionException or InvalidImageException)
        {
            error.WriteLine($"error: {e.Message}");
            return false;
        }
    }
}

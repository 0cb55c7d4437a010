using System.Net;
using System.Text;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// An HTTP participant that answers every command with a well-formed reply signed with another participant's key
/// (the given codec's) in that participant's name, as a service holding a key that is not its own would.
/// </summary>
public sealed class ImpostorParticipant : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly MessageCodec _codec;
    private readonly string _signer;
    private readonly Task _serving;
    private int _requests;

    private ImpostorParticipant(MessageCodec codec, string signer, int port)
    {
        _codec = codec;
        _signer = signer;
        Url = $"http://127.0.0.1:{port}/tx";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>Where the coordinator posts its commands.</summary>
    public string Url { get; }

    /// <summary>How many commands it was sent.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts one on a free port, replying as <paramref name="signer"/> with <paramref name="codec"/>.</summary>
    public static ImpostorParticipant Start(MessageCodec codec, string signer = "bank") => new(codec, signer, FreePort.Get());

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _serving;
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
        {
        }

        _listener.Close();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _requests);
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var body = JsonDocument.Parse(await reader.ReadToEndAsync()).RootElement.GetProperty("body");
            var kind = body.GetProperty("kind").GetString();
            var reply = new ProtocolMessage(kind == "Prepare" ? MessageKind.Vote : MessageKind.Ack, body.GetProperty("tx").GetString()!)
            {
                Branch = body.GetProperty("branch").GetInt32(),
                Participant = _signer,
                Vote = kind == "Prepare" ? Vote.Yes : null,
                Outcome = kind switch { "Commit" => BranchOutcome.Committed, "Rollback" => BranchOutcome.RolledBack, _ => null },
            };
            var bytes = Encoding.UTF8.GetBytes(_codec.Encode(reply));
            context.Response.ContentType = "application/json";
            context.Response.StatusCode = 200;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }
}

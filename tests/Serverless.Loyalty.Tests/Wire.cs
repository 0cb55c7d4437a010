using System.Net;
using System.Text.Json;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Testing;

namespace Serverless.Loyalty.Tests;

/// <summary>The keys the tests use; none of them is a real one.</summary>
public static class Keys
{
    /// <summary>loyalty's current key (42 bytes).</summary>
    public const string Loyalty = "loyalty-test-signing-key-0123456789-abcdef";

    /// <summary>loyalty's previous key, still accepted during a rotation.</summary>
    public const string Previous = "loyalty-previous-test-key-0123456789-uvwxyz";

    /// <summary>Another participant's key (bank's, say): loyalty must not accept it.</summary>
    public const string Other = "bank-test-signing-key-0123456789-abcdefghijk";

    /// <summary>The coordinator's codec for loyalty: signs with loyalty's current key.</summary>
    public static readonly MessageCodec Coordinator = CodecOf(Loyalty);

    /// <summary>A codec that signs with <paramref name="key"/> and accepts only it.</summary>
    public static MessageCodec CodecOf(string key) => new(Encoding.UTF8.GetBytes(key));
}

/// <summary>An answer of the service: its status code, its text, its media type.</summary>
public sealed record Answer(HttpStatusCode Status, string Text, string? ContentType)
{
    /// <summary>
    /// The reply, verified by the core's codec with loyalty's current key only: it must be signed with that key, be a
    /// valid protocol message, and name loyalty as its sender.
    /// </summary>
    public ProtocolMessage Reply()
    {
        Assert.Equal("application/json", ContentType);
        Assert.True(Keys.Coordinator.TryDecode(Text, out var message, out var error), $"the C# codec refused the reply ({error}): {Text}");
        Assert.Equal("loyalty", message!.Participant);
        return message;
    }

    /// <summary>The RFC 9457 problem document; it must say what went wrong in <c>detail</c>.</summary>
    public JsonElement Problem()
    {
        Assert.Equal("application/problem+json", ContentType);
        var document = JsonSerializer.Deserialize<JsonElement>(Text);
        Assert.Equal((int)Status, document.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(document.GetProperty("detail").GetString()), $"a problem without detail: {Text}");
        return document;
    }

    public override string ToString() => $"{(int)Status} {Text}";
}

/// <summary>What the coordinator sends, over plain HTTP as it will.</summary>
public static class Wire
{
    /// <summary>A fresh transaction id.</summary>
    public static string NewTx() => $"tx-{TestNames.UniquePrefix()}";

    /// <summary>A fresh customer id, so that tests sharing a service never share balances.</summary>
    public static string NewCustomer() => $"customer-{TestNames.UniquePrefix()}";

    /// <summary>The operation <c>{"type":"award","customer":..,"points":..}</c>.</summary>
    public static string Award(string customer, long points) => JsonSerializer.Serialize(new { type = "award", customer, points });

    /// <summary>A command as the coordinator builds it.</summary>
    public static ProtocolMessage Command(MessageKind kind, string tx, int branch, string operation, string participant = "loyalty") =>
        new(kind, tx) { Branch = branch, Participant = participant, Operation = operation };

    /// <summary>Try: the command signed with loyalty's key, posted.</summary>
    public static Task<Answer> TryAsync(this LoyaltyServer server, string tx, int branch, string operation) =>
        server.PostAsync(Keys.Coordinator.Encode(Command(MessageKind.Prepare, tx, branch, operation)));

    /// <summary>Confirm: the command signed with loyalty's key, posted.</summary>
    public static Task<Answer> ConfirmAsync(this LoyaltyServer server, string tx, int branch, string operation) =>
        server.PostAsync(Keys.Coordinator.Encode(Command(MessageKind.Commit, tx, branch, operation)));

    /// <summary>Cancel: the command signed with loyalty's key, posted.</summary>
    public static Task<Answer> CancelAsync(this LoyaltyServer server, string tx, int branch, string operation) =>
        server.PostAsync(Keys.Coordinator.Encode(Command(MessageKind.Rollback, tx, branch, operation)));

    /// <summary>POSTs <paramref name="text"/> to <c>/tx</c> as <c>application/json</c>.</summary>
    public static async Task<Answer> PostAsync(this LoyaltyServer server, string text)
    {
        using var content = new StringContent(text, Encoding.UTF8, "application/json");
        return await server.PostAsync(content);
    }

    /// <summary>POSTs <paramref name="content"/> to <c>/tx</c>.</summary>
    public static async Task<Answer> PostAsync(this LoyaltyServer server, HttpContent content)
    {
        using var response = await server.Client.PostAsync("/tx", content);
        return await AnswerOfAsync(response);
    }

    /// <summary>GET <paramref name="path"/>.</summary>
    public static async Task<Answer> GetAsync(this LoyaltyServer server, string path)
    {
        using var response = await server.Client.GetAsync(path);
        return await AnswerOfAsync(response);
    }

    private static async Task<Answer> AnswerOfAsync(HttpResponseMessage response) =>
        new(response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
}

/// <summary>One service per test class, signing with <see cref="Keys.Loyalty"/> and accepting <see cref="Keys.Previous"/> too.</summary>
public sealed class LoyaltyFixture : IAsyncLifetime
{
    private LoyaltyServer? _server;

    public LoyaltyServer Server => _server ?? throw new InvalidOperationException("loyalty has not started.");

    public async Task InitializeAsync() => _server = await LoyaltyServer.StartAsync(Keys.Loyalty, [Keys.Previous]);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

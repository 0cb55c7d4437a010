using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>One host (with its own Azurite) for <see cref="HostileHttpInputTests"/>, with the accounts alice and bob.</summary>
public sealed class HostileHttpFixture : LoggedHostFixture
{
    protected override async Task SeedAsync(TestHost host)
    {
        await host.PutAccountOrFailAsync("alice", 100);
        await host.PutAccountOrFailAsync("bob", 0);
    }
}

/// <summary>
/// Hostile HTTP bodies and URLs: each gets a clear 4xx problem and writes nothing, or is accepted and ends
/// correctly; never a 500, never a hang, never a wrong effect. The tests of this class run one after another on
/// one host, so "nothing started" is checked by counting its orchestration instances and decision records.
/// </summary>
public sealed class HostileHttpInputTests(HostileHttpFixture fixture) : IClassFixture<HostileHttpFixture>
{
    private const string Json = "application/json";
    private const string Pad100 = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    private const string Pad1000 = Pad100 + Pad100 + Pad100 + Pad100 + Pad100 + Pad100 + Pad100 + Pad100 + Pad100 + Pad100;

    /// <summary>More than the 4 KiB a seeding route reads.</summary>
    private const string Pad5000 = Pad1000 + Pad1000 + Pad1000 + Pad1000 + Pad1000;

    private const string ValidBranch = """{"participant":"bank","operation":{"type":"credit","account":"bob","amount":1}}""";

    /// <summary>What follows the first property of a body: a valid participants array.</summary>
    private const string Tail = ",\"participants\":[" + ValidBranch + "]}";

    /// <summary>Name → (body, content type, expected status, field the problem's errors must name or null).</summary>
    private static readonly Dictionary<string, (byte[] Body, string? ContentType, HttpStatusCode Status, string? Field)> Rejected = new()
    {
        ["invalid UTF-8 in the transactionId"] = (Bytes("{\"transactionId\":\"a", [0xFF, 0xFE], "\"" + Tail), Json, HttpStatusCode.BadRequest, null),
        ["invalid UTF-8 inside an operation"] = (Bytes("{\"participants\":[{\"participant\":\"bank\",\"operation\":{\"type\":\"credit\",\"account\":\"bob\",\"amount\":1,\"note\":\"", [0xC3, 0x28], "\"}}]}"), Json, HttpStatusCode.BadRequest, null),
        ["an overlong UTF-8 encoding in a property name"] = (Bytes("{\"", [0xC0, 0xAF], "\":1" + Tail), Json, HttpStatusCode.BadRequest, null),
        ["a UTF-8-encoded surrogate (CESU-8)"] = (Bytes("{\"transactionId\":\"", [0xED, 0xA0, 0x80], "\"" + Tail), Json, HttpStatusCode.BadRequest, null),
        ["an escaped lone high surrogate in the transactionId"] = (Text($$"""{"transactionId":"a\ud800","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["an escaped lone low surrogate inside an operation"] = (Text("""{"participants":[{"participant":"bank","operation":{"type":"credit","account":"bob","amount":1,"note":"\udc00"}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["an escaped lone surrogate as a property name"] = (Text($$"""{"\ud83d":1,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["an escaped surrogate pair in the wrong order"] = (Text("""{"participants":[{"participant":"b\udc00\ud800ank","operation":{}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a timeoutSeconds of 1e400"] = (Text($$"""{"timeoutSeconds":1e400,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "timeoutSeconds"),
        ["a timeoutSeconds beyond Int64"] = (Text($$"""{"timeoutSeconds":123456789012345678901234567890,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "timeoutSeconds"),
        ["a timeoutSeconds of -0"] = (Text($$"""{"timeoutSeconds":-0,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "timeoutSeconds"),
        ["a duplicate transactionId property"] = (Text($$"""{"transactionId":"dup-a","transactionId":"dup-b","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a duplicate property inside an operation"] = (Text("""{"participants":[{"participant":"bank","operation":{"type":"credit","account":"bob","amount":1,"amount":1000000}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a duplicate property spelt with an escape"] = (Text($$"""{"participants":[{{ValidBranch}}],"p\u0061rticipants":[]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a raw NUL byte inside a string"] = (Bytes("""{"transactionId":"a""", [0x00], $$"""b","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a raw NUL byte between tokens"] = (Bytes("{", [0x00], "\"participants\":[" + ValidBranch + "]}"), Json, HttpStatusCode.BadRequest, null),
        ["an escaped NUL in the transactionId"] = (Text($$"""{"transactionId":"a\u0000b","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "transactionId"),
        ["a transactionId of 100000 characters"] = (Text($$"""{"transactionId":"{{new string('x', 100_000)}}","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "transactionId"),
        ["a transactionId with a right-to-left override"] = (Text($$"""{"transactionId":"abc\u202Edef","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "transactionId"),
        ["a transactionId in full-width digits"] = (Text($$"""{"transactionId":"１２３","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "transactionId"),
        ["a participant name with a zero-width space"] = (Text("""{"participants":[{"participant":"ba\u200Bnk","operation":{}}]}"""), Json, HttpStatusCode.BadRequest, "participants[0].participant"),
        ["a participant name that is a number"] = (Text("""{"participants":[{"participant":7,"operation":{}}]}"""), Json, HttpStatusCode.BadRequest, "participants[0].participant"),
        ["an operation that is null"] = (Text("""{"participants":[{"participant":"bank","operation":null}]}"""), Json, HttpStatusCode.BadRequest, "participants[0].operation"),
        ["participants that is a string"] = (Text("""{"participants":"bank"}"""), Json, HttpStatusCode.BadRequest, "participants"),
        ["a body that is a JSON string"] = (Text("\"participants\""), Json, HttpStatusCode.BadRequest, "$"),
        ["a body that is a JSON number"] = (Text("1e400"), Json, HttpStatusCode.BadRequest, "$"),
        ["a body that is null"] = (Text("null"), Json, HttpStatusCode.BadRequest, "$"),
        ["a body of whitespace only"] = (Text(" \r\n\t "), Json, HttpStatusCode.BadRequest, null),
        ["a truncated body"] = (Text($$"""{"participants":[{{ValidBranch}}"""), Json, HttpStatusCode.BadRequest, null),
        ["trailing garbage after the object"] = (Text($$"""{"participants":[{{ValidBranch}}]} x"""), Json, HttpStatusCode.BadRequest, null),
        ["two JSON objects"] = (Text($$"""{"participants":[{{ValidBranch}}]}{}"""), Json, HttpStatusCode.BadRequest, null),
        ["a comment"] = (Text($$"""{/* hi */"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["a trailing comma"] = (Text($$"""{"participants":[{{ValidBranch}}],}"""), Json, HttpStatusCode.BadRequest, null),
        ["a NaN literal"] = (Text($$"""{"timeoutSeconds":NaN,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, null),
        ["single-quoted strings"] = (Text("{'participants':[]}"), Json, HttpStatusCode.BadRequest, null),
        ["objects nested 40000 deep"] = (Text(string.Concat(Enumerable.Repeat("{\"a\":", 40_000)) + "1" + new string('}', 40_000)), Json, HttpStatusCode.BadRequest, null),
        ["a real form body"] = (Text("participants=bank&amount=30"), "application/x-www-form-urlencoded", HttpStatusCode.BadRequest, null),
        ["an XML body"] = (Text("<transaction><participant>bank</participant></transaction>"), "application/xml", HttpStatusCode.UnsupportedMediaType, null),
        ["a multipart content type"] = (Text("--b\r\n\r\n{}\r\n--b--"), "multipart/form-data; boundary=b", HttpStatusCode.UnsupportedMediaType, null),
        ["JSON declared as UTF-16"] = (Encoding.Unicode.GetBytes($$"""{"participants":[{{ValidBranch}}]}"""), "application/json; charset=utf-16", HttpStatusCode.UnsupportedMediaType, null),
        ["UTF-16 JSON declared as UTF-8"] = ([0xFF, 0xFE, .. Encoding.Unicode.GetBytes($$"""{"participants":[{{ValidBranch}}]}""")], Json, HttpStatusCode.BadRequest, null),
        ["objects nested 33 deep, one more than allowed"] = (Text(string.Concat(Enumerable.Repeat("{\"a\":", 33)) + "1" + new string('}', 33)), Json, HttpStatusCode.BadRequest, null),
        ["arrays nested 10000 deep inside an operation"] = (Text("""{"participants":[{"participant":"bank","operation":{"x":""" + new string('[', 10_000) + new string(']', 10_000) + "}}]}"), Json, HttpStatusCode.BadRequest, null),
        ["a transactionId that is a number"] = (Text($$"""{"transactionId":42,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "transactionId"),
        ["a timeoutSeconds that is a string"] = (Text($$"""{"timeoutSeconds":"30","participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "timeoutSeconds"),
        ["a timeoutSeconds that is true"] = (Text($$"""{"timeoutSeconds":true,"participants":[{{ValidBranch}}]}"""), Json, HttpStatusCode.BadRequest, "timeoutSeconds"),
        ["participants that is an object"] = (Text("{\"participants\":" + ValidBranch + "}"), Json, HttpStatusCode.BadRequest, "participants"),
        ["a branch that is an array"] = (Text("""{"participants":[["bank",{}]]}"""), Json, HttpStatusCode.BadRequest, "participants[0]"),
        ["an operation that is a string"] = (Text("""{"participants":[{"participant":"bank","operation":"debit alice 30"}]}"""), Json, HttpStatusCode.BadRequest, "participants[0].operation"),
        ["65 branches"] = (Text("{\"participants\":[" + string.Join(",", Enumerable.Repeat(ValidBranch, 65)) + "]}"), Json, HttpStatusCode.BadRequest, "participants"),
        ["an unknown participant"] = (Text("""{"participants":[{"participant":"bankk","operation":{}}]}"""), Json, HttpStatusCode.BadRequest, "participants[0].participant"),
        ["a body that is an array"] = (Text($$"""[{{ValidBranch}}]"""), Json, HttpStatusCode.BadRequest, "$"),
        ["an empty body"] = ([], Json, HttpStatusCode.BadRequest, null),
        ["an unparsable content type"] = (Text($$"""{"participants":[{{ValidBranch}}]}"""), "json", HttpStatusCode.UnsupportedMediaType, null),
    };

    public static TheoryData<string> RejectedCases => [.. Rejected.Keys];

    [Theory]
    [MemberData(nameof(RejectedCases))]
    public async Task Start_WithAHostileBody_IsAClear4xxProblem_AndWritesNothing(string name)
    {
        var (body, contentType, status, field) = Rejected[name];
        var before = await SnapshotAsync();

        using var response = await PostAsync("/api/transactions", body, contentType);

        var problem = await AssertProblemAsync(response, status);
        if (field is not null)
        {
            Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _), $"errors should name {field}: {problem}");
        }

        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("300 KB with its Content-Length", 300_000, true)]
    [InlineData("300 KB chunked, no Content-Length", 300_000, false)]
    [InlineData("2 MB chunked, beyond the server's own limit", 2_000_000, false)]
    public async Task Start_WithABodyOverTheLimit_Is413_AndStartsNothing(string why, int size, bool lengthKnown)
    {
        // Valid JSON but for its size: a note inside an operation.
        var body = Text("{\"participants\":[{\"participant\":\"bank\",\"operation\":{\"type\":\"credit\",\"account\":\"bob\",\"amount\":1,\"note\":\"" + new string('x', size) + "\"}}]}");
        var before = await SnapshotAsync();

        using var response = await PostLargeAsync(body, lengthKnown);

        var problem = await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("larger than", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(before == await SnapshotAsync(), why);
    }

    [Theory]
    [InlineData("a UTF-8 byte order mark", "\uFEFF", Json)]
    [InlineData("text/plain, what the simplest clients send", "", "text/plain; charset=utf-8")]
    [InlineData("a vendor JSON type", "", "application/vnd.transfer+json")]
    [InlineData("no content type at all", "", null)]
    [InlineData("form-urlencoded, what curl -d sends without a content-type header", "", "application/x-www-form-urlencoded")]
    public async Task Start_WithAnUnusualButValidJsonBody_IsAccepted(string why, string preamble, string? contentType)
    {
        var id = TestHost.Id("odd-ok");
        var body = Text(preamble + $$"""{"transactionId":"{{id}}","participants":[{{ValidBranch}}]}""");

        using var response = await PostAsync("/api/transactions?waitSeconds=20", body, contentType);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{await DescribeAsync(id)}");
        Assert.Equal("Committed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("an amount of 1e400", """{"type":"debit","account":"alice","amount":1e400}""")]
    [InlineData("an amount beyond Int64", """{"type":"debit","account":"alice","amount":99999999999999999999999}""")]
    [InlineData("an amount that is a string", """{"type":"debit","account":"alice","amount":"30"}""")]
    [InlineData("a negative amount", """{"type":"debit","account":"alice","amount":-30}""")]
    [InlineData("a fractional amount", """{"type":"debit","account":"alice","amount":0.5}""")]
    [InlineData("a look-alike account name (Cyrillic a)", """{"type":"debit","account":"\u0430lice","amount":30}""")]
    [InlineData("an account name with an escaped NUL", """{"type":"debit","account":"alice\u0000","amount":30}""")]
    [InlineData("an account name of 1000 characters", """{"type":"debit","account":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","amount":30}""")]
    [InlineData("a type in another case", """{"type":"DEBIT","account":"alice","amount":30}""")]
    public async Task Start_WithAWellFormedButWrongOperation_AbortsAndMovesNothing(string why, string operation)
    {
        var id = TestHost.Id("wrong-op");
        var balances = await BalancesAsync();
        var body = Text($$"""{"transactionId":"{{id}}","participants":[{"participant":"bank","operation":{{operation}}},{{ValidBranch}}]}""");

        using var response = await PostAsync("/api/transactions?waitSeconds=20", body, Json);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{await DescribeAsync(id)}");
        var done = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Aborted", done.GetProperty("status").GetString());
        Assert.Equal("No", done.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal(balances, await BalancesAsync());
    }

    [Fact]
    public async Task Start_WithAstralPlaneCharactersInAnOperation_KeepsThemIntact()
    {
        var id = TestHost.Id("emoji");
        const string note = "\U0001F600 \u00E9\u0301 \u202E\u200B";
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            transactionId = id,
            participants = new object[] { new { participant = "bank", operation = new { type = "credit", account = "bob", amount = 0, note } } },
        });

        using var response = await PostAsync("/api/transactions?waitSeconds=20", body, Json);

        // amount 0 is refused by the bank: what matters is that the text travelled unchanged and the answer is clean.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Aborted", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("PUT", "/api/bank/accounts/alice", """{"balance":1e400}""", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/bank/accounts/alice", """{"balance":1,"balance":1000000}""", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/bank/accounts/alice", """{"balance":1,"note":"\ud800"}""", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/bank/accounts/%E2%80%AE", """{"balance":1}""", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/inventory/items/widget", "stock=5", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions/%ED%A0%80", null, HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/transactions/%F0%9F%98%80", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/transactions/..%2F..%2Fetc/abort", null, HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/transactions?top=99999999999999999999", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?status=%00", null, HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/bank/accounts/alice", "{\"balance\":1,\"pad\":\"" + Pad5000 + "\"}", HttpStatusCode.RequestEntityTooLarge)]
    [InlineData("GET", "/api/transactions?top=0", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?top=-1", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?top=1001", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?top=ten", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?status=Bogus", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?status=1", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?continuationToken=!!!", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?continuationToken=_w", null, HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=99999999999999999999", """{"participants":[""" + ValidBranch + "]}", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=-1", """{"participants":[""" + ValidBranch + "]}", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=61", """{"participants":[""" + ValidBranch + "]}", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=1.5", """{"participants":[""" + ValidBranch + "]}", HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=soon", """{"participants":[""" + ValidBranch + "]}", HttpStatusCode.BadRequest)]
    public async Task OtherRoutes_WithHostileInput_AnswerAClear4xxProblem_AndChangeNothing(string method, string url, string? body, HttpStatusCode status)
    {
        var before = await SnapshotAsync();
        using var response = await fixture.Host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url)
        {
            Content = body is null ? null : new ByteArrayContent(Text(body)) { Headers = { ContentType = new MediaTypeHeaderValue(Json) } },
        });

        await AssertProblemAsync(response, status);
        Assert.Equal(before, await SnapshotAsync());
    }

    /// <summary>
    /// Requests Kestrel itself refuses before any route runs (a NUL in the path, a request line over its 8 KiB limit): a
    /// 4xx without a body, since no app code sees them, and nothing changed.
    /// </summary>
    [Theory]
    [InlineData("PUT", "/api/bank/accounts/%00")]
    [InlineData("GET", "/api/transactions/%00")]
    [InlineData("GET", "/api/transactions/{5000 x}")]
    [InlineData("GET", "/api/transactions/{20000 x}")]
    public async Task RequestsTheServerRefusesBeforeAnyRoute_AreA4xx_AndChangeNothing(string method, string url)
    {
        url = url.Replace("{5000 x}", new string('x', 5_000), StringComparison.Ordinal).Replace("{20000 x}", new string('x', 20_000), StringComparison.Ordinal);
        var before = await SnapshotAsync();

        using var response = await fixture.Host.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url)
        {
            Content = method == "PUT" ? new ByteArrayContent(Text("""{"balance":1}""")) { Headers = { ContentType = new MediaTypeHeaderValue(Json) } } : null,
        });

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal(before, await SnapshotAsync());
    }

    private async Task<HttpResponseMessage> PostAsync(string url, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return await fixture.Host.Client.PostAsync(url, content);
    }

    private async Task<((long, long) Alice, (long, long) Bob)> BalancesAsync() =>
        (await fixture.Host.GetAccountAsync("alice"), await fixture.Host.GetAccountAsync("bob"));

    /// <summary>What became of a transaction, for a failure message: its instance and what the host logged.</summary>
    private async Task<string> DescribeAsync(string id)
    {
        var instance = await fixture.Host.Durable().GetInstanceAsync(id, getInputsAndOutputs: true);
        var lines = fixture.Logs.Lines.Where(l => l.Message.Contains(id, StringComparison.Ordinal) || l.Category.StartsWith("DurableTask", StringComparison.Ordinal)).TakeLast(20);
        return $"instance: {instance?.RuntimeStatus} {instance?.FailureDetails} {instance?.SerializedCustomStatus}\n{string.Join("\n", lines.Select(l => $"{l.EventId} {l.Category}: {l.Message}"))}";
    }

    /// <summary>What a request could have started or changed: orchestration instances, decision records, balances.</summary>
    private async Task<(int Instances, int Decisions, ((long, long) Alice, (long, long) Bob) Balances)> SnapshotAsync() =>
        (await fixture.Host.CountInstancesAsync(), await fixture.Host.CountDecisionsAsync(), await BalancesAsync());

    /// <summary>The answer is <paramref name="status"/> with a problem document that says what is wrong.</summary>
    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(text);
        Assert.False(string.IsNullOrWhiteSpace(problem.TryGetProperty("detail", out var d) ? d.GetString() : null), text);
        return problem;
    }

    private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>
    /// Posts a large body on a connection of its own. The server may answer 413 and close the connection before the client
    /// has sent everything, which the client can see as a broken pipe instead of the answer: that attempt is repeated.
    /// </summary>
    private async Task<HttpResponseMessage> PostLargeAsync(byte[] body, bool lengthKnown)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var client = new HttpClient { BaseAddress = fixture.Host.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            try
            {
                return await client.PostAsync("/api/transactions", lengthKnown ? new ByteArrayContent(body) : new ChunkedContent(body));
            }
            catch (HttpRequestException) when (attempt < 5)
            {
            }
        }
    }

    /// <summary>A body sent chunked: its length is not known up front, so the server must stop reading at its own limit.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private static byte[] Bytes(string before, byte[] raw, string after) => [.. Text(before), .. raw, .. Text(after)];
}

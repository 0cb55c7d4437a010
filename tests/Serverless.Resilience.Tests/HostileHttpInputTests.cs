using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>One host on its own Azurite for <see cref="HostileHttpInputTests"/>, with the accounts alice and bob.</summary>
public sealed class HostileHttpFixture : IAsyncLifetime
{
    private AzuriteInstance? _azurite;
    private TestApp? _app;

    public TestApp App => _app ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _azurite = await AzuriteInstance.StartAsync();
        _app = await TestApp.StartAsync(_azurite.ConnectionString);
        await _app.PutAccountAsync("alice", 100);
        await _app.PutAccountAsync("bob", 0);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }
}

/// <summary>
/// Hostile HTTP bodies and URLs: each gets a clear 4xx problem and writes nothing, or is accepted and ends
/// correctly; never a 500, never a hang, never a wrong effect. The tests of this class run one after another on
/// one host, so "nothing written" is checked by counting its transactions.
/// </summary>
public sealed class HostileHttpInputTests(HostileHttpFixture fixture) : IClassFixture<HostileHttpFixture>
{
    private const string Json = "application/json";
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
        ["an unparsable content type"] = (Text($$"""{"participants":[{{ValidBranch}}]}"""), "json", HttpStatusCode.UnsupportedMediaType, null),
    };

    public static TheoryData<string> RejectedCases => [.. Rejected.Keys];

    [Theory]
    [MemberData(nameof(RejectedCases))]
    public async Task Start_WithAHostileBody_IsAClear4xxProblem_AndWritesNothing(string name)
    {
        var (body, contentType, status, field) = Rejected[name];
        var before = await CountTransactionsAsync();
        var balances = await BalancesAsync();

        using var response = await PostAsync("/api/transactions", body, contentType);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), problem.ToString());
        if (field is not null)
        {
            Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _), $"errors should name {field}: {problem}");
        }

        Assert.Equal(before, await CountTransactionsAsync());
        Assert.Equal(balances, await BalancesAsync());
    }

    [Theory]
    [InlineData("a UTF-8 byte order mark", "\uFEFF", Json)]
    [InlineData("text/plain, what the simplest clients send", "", "text/plain; charset=utf-8")]
    [InlineData("a vendor JSON type", "", "application/vnd.transfer+json")]
    [InlineData("no content type at all", "", null)]
    [InlineData("form-urlencoded, what curl -d sends without a content-type header", "", "application/x-www-form-urlencoded")]
    public async Task Start_WithAnUnusualButValidJsonBody_IsAccepted(string why, string preamble, string? contentType)
    {
        var id = TestApp.Id("odd-ok");
        var body = Text(preamble + $$"""{"transactionId":"{{id}}","participants":[{{ValidBranch}}]}""");

        using var response = await PostAsync("/api/transactions?waitSeconds=20", body, contentType);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
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
        var id = TestApp.Id("wrong-op");
        var balances = await BalancesAsync();
        var body = Text($$"""{"transactionId":"{{id}}","participants":[{"participant":"bank","operation":{{operation}}},{{ValidBranch}}]}""");

        using var response = await PostAsync("/api/transactions?waitSeconds=20", body, Json);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{why}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var done = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Aborted", done.GetProperty("status").GetString());
        Assert.Equal("No", done.GetProperty("participants")[0].GetProperty("vote").GetString());
        Assert.Equal(balances, await BalancesAsync());
    }

    [Fact]
    public async Task Start_WithAstralPlaneCharactersInAnOperation_KeepsThemIntact()
    {
        var id = TestApp.Id("emoji");
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
    [InlineData("PUT", "/api/bank/accounts/%00", """{"balance":1}""", HttpStatusCode.BadRequest)]
    [InlineData("PUT", "/api/inventory/items/widget", "stock=5", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions/%00", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions/%ED%A0%80", null, HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/transactions/%F0%9F%98%80", null, HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/transactions/..%2F..%2Fetc/abort", null, HttpStatusCode.NotFound)]
    [InlineData("GET", "/api/transactions?top=99999999999999999999", null, HttpStatusCode.BadRequest)]
    [InlineData("GET", "/api/transactions?status=%00", null, HttpStatusCode.BadRequest)]
    [InlineData("POST", "/api/transactions?waitSeconds=99999999999999999999", ValidBranch, HttpStatusCode.BadRequest)]
    public async Task OtherRoutes_WithHostileInput_AnswerAClear4xx_AndChangeNothing(string method, string url, string? body, HttpStatusCode status)
    {
        var balances = await BalancesAsync();
        using var response = await fixture.App.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url)
        {
            Content = body is null ? null : new ByteArrayContent(Text(body)) { Headers = { ContentType = new MediaTypeHeaderValue(Json) } },
        });

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(balances, await BalancesAsync());
    }

    [Theory]
    [InlineData(5_000)]
    [InlineData(20_000)]
    public async Task Get_WithAnExtremelyLongTransactionId_IsA4xx(int length)
    {
        using var response = await fixture.App.Client.GetAsync($"/api/transactions/{new string('x', length)}");

        Assert.InRange((int)response.StatusCode, 400, 499);
    }

    private async Task<HttpResponseMessage> PostAsync(string url, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return await fixture.App.Client.PostAsync(url, content);
    }

    private async Task<((long, long) Alice, (long, long) Bob)> BalancesAsync() =>
        (await fixture.App.GetAccountAsync("alice"), await fixture.App.GetAccountAsync("bob"));

    private async Task<int> CountTransactionsAsync() =>
        (await fixture.App.Client.GetFromJsonAsync<JsonElement>("/api/transactions?top=1000")).GetProperty("items").GetArrayLength();

    private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] Bytes(string before, byte[] raw, string after) => [.. Text(before), .. raw, .. Text(after)];
}

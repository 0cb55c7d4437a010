using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.LocalHost;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The API's contract for bad requests: problem+json with a detail, the validation <c>errors</c> map, 404/413/415, the API key, health.</summary>
public sealed class HttpApiTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private const string ProblemJson = "application/problem+json";

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { "{not json", "$" },
        { "[1,2]", "$" },
        { "{}", "participants" },
        { """{"participants":[]}""", "participants" },
        { """{"participants":{"participant":"bank"}}""", "participants" },
        { """{"transactionId":"has space","participants":[{"participant":"bank","operation":{}}]}""", "transactionId" },
        { """{"transactionId":"","participants":[{"participant":"bank","operation":{}}]}""", "transactionId" },
        { """{"transactionId":42,"participants":[{"participant":"bank","operation":{}}]}""", "transactionId" },
        { """{"transactionId":"x12345678901234567890123456789012345678901234567890123456789012345","participants":[{"participant":"bank","operation":{}}]}""", "transactionId" },
        { """{"timeoutSeconds":0,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":3601,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":"30","participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":1.5,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"participants":[{"participant":"mallory","operation":{}}]}""", "participants[0].participant" },
        { """{"participants":[{"participant":"bank"}]}""", "participants[0].operation" },
        { """{"participants":[{"participant":"bank","operation":"debit"}]}""", "participants[0].operation" },
        { """{"participants":[{"participant":"bank","operation":{}}, 7]}""", "participants[1]" },
    };

    private TestHost Host => fixture.Host;

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Start_WithAnInvalidBody_Is400ProblemNamingTheField_AndStartsNothing(string body, string field)
    {
        var before = await CountTransactionsAsync();

        var response = await Host.Client.PostAsync("/api/transactions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await ReadProblemAsync(response);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        if (field != "$")
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out var messages), $"errors should name {field}: {problem}");
            Assert.True(messages.GetArrayLength() > 0);
        }

        Assert.Equal(before, await CountTransactionsAsync());
    }

    [Fact]
    public async Task Start_WithSeveralBadFields_NamesEveryOneOfThem()
    {
        var response = await Host.Client.PostAsync("/api/transactions", new StringContent(
            """{"transactionId":"no spaces please","timeoutSeconds":0,"participants":[{"participant":"mallory","operation":{}}]}""", Encoding.UTF8, "application/json"));

        var errors = (await ReadProblemAsync(response)).GetProperty("errors");
        Assert.Equal(
            ["participants[0].participant", "timeoutSeconds", "transactionId"],
            errors.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Start_WithTooManyBranches_Is400NamingParticipants()
    {
        var branches = Enumerable.Range(0, 65).Select(_ => new { participant = "bank", operation = new { type = "credit", account = "a", amount = 1 } });

        var response = await Host.Client.PostAsJsonAsync("/api/transactions", new { participants = branches });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadProblemAsync(response)).GetProperty("errors").TryGetProperty("participants", out _));
    }

    [Fact]
    public async Task Start_WithAnOversizedBody_Is413Problem()
    {
        var id = TestHost.Id("big");
        var big = new string('x', 300 * 1024);

        var response = await Host.Client.PostAsJsonAsync("/api/transactions", new { transactionId = id, participants = new[] { new { participant = "bank", operation = new { big } } } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await ReadProblemAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("application/xml")]
    [InlineData("multipart/form-data; boundary=b")]
    [InlineData("application/json; charset=utf-16")]
    public async Task Start_WithAContentTypeThatIsNotJson_Is415Problem(string contentType)
    {
        var id = TestHost.Id("media");
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(TestHost.Transfer(id, "a", "b", 1))));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        var response = await Host.Client.PostAsync("/api/transactions", content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        await ReadProblemAsync(response);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Fact]
    public async Task Start_WithADeeplyNestedBody_Is400()
    {
        var nested = new string('[', 200) + new string(']', 200);

        var response = await Host.Client.PostAsync("/api/transactions", new StringContent("{\"participants\":[{\"participant\":\"bank\",\"operation\":{\"x\":" + nested + "}}]}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await ReadProblemAsync(response);
    }

    [Theory]
    [InlineData("waitSeconds=61")]
    [InlineData("waitSeconds=-1")]
    [InlineData("waitSeconds=soon")]
    public async Task Start_WithABadWaitSeconds_Is400NamingIt_AndStartsNothing(string query)
    {
        var id = TestHost.Id("wait");

        var response = await Host.Client.PostAsJsonAsync($"/api/transactions?{query}", TestHost.Transfer(id, "a", "b", 1));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await ReadProblemAsync(response)).GetProperty("errors").TryGetProperty("waitSeconds", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client.GetAsync($"/api/transactions/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("not%20valid")]
    public async Task Get_OfAnUnknownTransaction_Is404Problem(string id)
    {
        var response = await Host.Client.GetAsync($"/api/transactions/{id}");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await ReadProblemAsync(response);
    }

    [Fact]
    public async Task SampleRoutes_SeedAndRead_AndValidateTheirInput()
    {
        var account = TestHost.Id("dave");
        var sku = TestHost.Id("sku");

        var created = await Host.PutAccountAsync(account, 42);
        var negative = await Host.PutAccountAsync(account, -1);
        var notNumber = await Host.Client.PutAsync($"/api/bank/accounts/{account}", new StringContent("""{"balance":"many"}"""));
        var missing = await Host.Client.GetAsync($"/api/bank/accounts/{TestHost.Id("erin")}");
        var item = await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 7 });
        var badItem = await Host.Client.PutAsJsonAsync($"/api/inventory/items/{sku}", new { stock = 1.5 });

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal((42, 0), await Host.GetAccountAsync(account));
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.True((await ReadProblemAsync(negative)).GetProperty("errors").TryGetProperty("balance", out _));
        Assert.Equal(HttpStatusCode.BadRequest, notNumber.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        await ReadProblemAsync(missing);
        Assert.Equal(HttpStatusCode.OK, item.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badItem.StatusCode);
        var stock = await Host.Client.GetFromJsonAsync<JsonElement>($"/api/inventory/items/{sku}");
        Assert.Equal(7, stock.GetProperty("stock").GetInt64());
        Assert.Equal(0, stock.GetProperty("reserved").GetInt64());
    }

    [Fact]
    public async Task ApiKey_WhenConfigured_IsRequiredEverywhereButHealth()
    {
        await using var host = await TestHost.StartAsync(new Dictionary<string, string?> { ["TRANSACTIONS_API_KEY"] = "s3cret" });

        var without = await host.Client.GetAsync("/api/transactions/x");
        var wrong = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/transactions/x") { Headers = { { "x-functions-key", "nope" } } });
        var header = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/transactions/x") { Headers = { { "x-functions-key", "s3cret" } } });
        var query = await host.Client.GetAsync("/api/transactions/x?code=s3cret");
        var start = await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("k-1", "a", "b", 1));
        var list = await host.Client.GetAsync("/api/transactions");
        var seed = await host.PutAccountAsync("alice", 1);
        var health = await host.Client.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(ProblemJson, without.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, header.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, query.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, start.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, seed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync("/api/transactions/k-1?code=s3cret")).StatusCode);
    }

    [Fact]
    public async Task Health_AndStart_WhenStorageIsUnreachable_Are503Problems()
    {
        // Nothing listens on these ports: storage is down from the start.
        var dead = $"DefaultEndpointsProtocol=http;AccountName={AzuriteInstance.AccountName};AccountKey={AzuriteInstance.AccountKey};"
            + $"BlobEndpoint=http://127.0.0.1:{FreePort.Get()}/{AzuriteInstance.AccountName};QueueEndpoint=http://127.0.0.1:{FreePort.Get()}/{AzuriteInstance.AccountName};"
            + $"TableEndpoint=http://127.0.0.1:{FreePort.Get()}/{AzuriteInstance.AccountName};";
        var port = FreePort.Get();
        var app = LocalFunctionsHost.Build([], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = dead,
            ["Host:LocalHttpPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["TRANSACTIONS_REQUEST_TIMEOUT_SECONDS"] = "2",
            ["TRANSACTIONS_SIGNING_KEY"] = TestHost.SigningKey,
            ["TRANSACTIONS_IN_DOUBT_SCHEDULE"] = "0 0 * * * *",
            ["Logging:LogLevel:Default"] = "None",
        });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

            var health = await client.GetAsync("/api/health");
            var start = await client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("down-1", "a", "b", 1));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, start.StatusCode);
            Assert.Equal(ProblemJson, start.Content.Headers.ContentType?.MediaType);
        }
        finally
        {
            // The engine is still retrying against storage that is not there: do not wait long for it.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await app.StopAsync(stop.Token);
            await app.DisposeAsync();
        }
    }

    private async Task<int> CountTransactionsAsync() =>
        (await Host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?top=1000")).GetProperty("items").GetArrayLength();

    private static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal(ProblemJson, response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}

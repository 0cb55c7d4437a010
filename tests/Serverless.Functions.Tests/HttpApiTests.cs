using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>Every route's contract: validation with problem+json, the API key, listing and paging, health.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class HttpApiTests(AzuriteFixture azurite)
{
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
        { """{"timeoutSeconds":0,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":3601,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":"30","participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"timeoutSeconds":1.5,"participants":[{"participant":"bank","operation":{}}]}""", "timeoutSeconds" },
        { """{"participants":[{"participant":"mallory","operation":{}}]}""", "participants[0].participant" },
        { """{"participants":[{"participant":"bank"}]}""", "participants[0].operation" },
        { """{"participants":[{"participant":"bank","operation":"debit"}]}""", "participants[0].operation" },
        { """{"participants":[{"participant":"bank","operation":{}}, 7]}""", "participants[1]" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task Start_WithAnInvalidBody_Is400ProblemNamingTheField_AndWritesNothing(string body, string field)
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);

        var response = await host.Client.PostAsync("/api/transactions", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()));
        if (field != "$")
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name {field}: {problem}");
        }

        var list = await host.Client.GetFromJsonAsync<JsonElement>("/api/transactions");
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Start_WithTooManyBranches_Is400()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        var branches = Enumerable.Range(0, 65).Select(_ => new { participant = "bank", operation = new { type = "credit", account = "a", amount = 1 } });

        var response = await host.Client.PostAsJsonAsync("/api/transactions", new { participants = branches });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Start_WithAnOversizedBody_Is413()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        var big = new string('x', 300 * 1024);

        var response = await host.Client.PostAsJsonAsync("/api/transactions", new { participants = new[] { new { participant = "bank", operation = new { big } } } });

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Start_WithADeeplyNestedBody_Is400()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        var nested = new string('[', 200) + new string(']', 200);

        var response = await host.Client.PostAsync("/api/transactions", new StringContent("{\"participants\":[{\"participant\":\"bank\",\"operation\":{\"x\":" + nested + "}}]}"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("waitSeconds=61")]
    [InlineData("waitSeconds=-1")]
    [InlineData("waitSeconds=soon")]
    public async Task Start_WithABadWaitSeconds_Is400(string query)
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);

        var response = await host.Client.PostAsJsonAsync($"/api/transactions?{query}", TestHost.Transfer("w-1", "a", "b", 1));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client.GetAsync("/api/transactions/w-1")).StatusCode);
    }

    [Fact]
    public async Task Get_UnknownTransaction_Is404Problem()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);

        var response = await host.Client.GetAsync("/api/transactions/nope");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task List_PagesNewestFirst_FiltersByStatus_AndRejectsBadParameters()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        await host.PutAccountAsync("alice", 1000);
        await host.PutAccountAsync("bob", 0);
        for (var i = 0; i < 5; i++)
        {
            await host.StartAsync(TestHost.Transfer($"list-{i}", "alice", "bob", i == 2 ? 5000 : 1), waitSeconds: 20);
        }

        var first = await host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?top=2");
        var token = first.GetProperty("continuationToken").GetString();
        var second = await host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?top=2&continuationToken={token}");
        var third = await host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?top=2&continuationToken={second.GetProperty("continuationToken").GetString()}");
        var aborted = await host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?status=Aborted");

        var ids = new[] { first, second, third }.SelectMany(p => p.GetProperty("items").EnumerateArray()).Select(d => d.GetProperty("id").GetString()).ToList();
        Assert.Equal(["list-4", "list-3", "list-2", "list-1", "list-0"], ids);
        Assert.Equal(JsonValueKind.Null, third.GetProperty("continuationToken").ValueKind);
        Assert.Equal(["list-2"], aborted.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        foreach (var bad in new[] { "status=Sideways", "top=0", "top=1001", "top=x", "continuationToken=garbage!" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await host.Client.GetAsync($"/api/transactions?{bad}")).StatusCode);
        }
    }

    [Fact]
    public async Task ApiKey_WhenConfigured_IsRequiredEverywhereButHealth()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString, new Dictionary<string, string?> { ["TRANSACTIONS_API_KEY"] = "s3cret" });

        var without = await host.Client.GetAsync("/api/transactions/x");
        var wrong = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/transactions/x") { Headers = { { "x-functions-key", "nope" } } });
        var header = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/transactions/x") { Headers = { { "x-functions-key", "s3cret" } } });
        var query = await host.Client.GetAsync("/api/transactions/x?code=s3cret");
        var start = await host.Client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("k-1", "a", "b", 1));
        var seed = await host.PutAccountAsync("alice", 1);
        var health = await host.Client.GetAsync("/api/health");

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal("application/problem+json", without.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, header.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, query.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, start.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, seed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Health_WhenStorageIsUnreachable_Is503()
    {
        var dead = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;QueueEndpoint=http://127.0.0.1:{FreePort.Get()}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{FreePort.Get()}/devstoreaccount1;";
        var port = FreePort.Get();
        var app = Hosting.FunctionApp.Create([], new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = dead,
            ["Host:LocalHttpPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

            var health = await client.GetAsync("/api/health");
            var start = await client.PostAsJsonAsync("/api/transactions", TestHost.Transfer("down-1", "a", "b", 1));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, start.StatusCode);
            Assert.Equal("application/problem+json", start.Content.Headers.ContentType!.MediaType);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Bank_SeedingAndReading_ValidatesInput()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);

        var created = await host.PutAccountAsync("dave", 42);
        var negative = await host.PutAccountAsync("dave", -1);
        var notNumber = await host.Client.PutAsync("/api/bank/accounts/dave", new StringContent("""{"balance":"many"}"""));
        var missing = await host.Client.GetAsync("/api/bank/accounts/erin");
        var badItem = await host.Client.PutAsJsonAsync("/api/inventory/items/w", new { stock = 1.5 });

        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        Assert.Equal((42, 0), await host.GetAccountAsync("dave"));
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notNumber.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badItem.StatusCode);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// <c>GET /api/transactions</c>: pages of status documents, the status filter, <c>top</c> and the continuation token. The class
/// has a host of its own, so that it knows every transaction there is.
/// </summary>
public sealed class TransactionListTests(TransactionListTests.Fixture fixture) : IClassFixture<TransactionListTests.Fixture>
{
    [Fact]
    public async Task List_PagesThroughEveryTransactionOnce_EachPageNewestFirst()
    {
        var pages = new List<JsonElement>();
        string? token = null;
        do
        {
            var url = token is null ? "/api/transactions?top=2" : $"/api/transactions?top=2&continuationToken={Uri.EscapeDataString(token)}";
            var page = await fixture.Host.Client.GetFromJsonAsync<JsonElement>(url);
            pages.Add(page);
            token = page.GetProperty("continuationToken").GetString();
        }
        while (token is not null && pages.Count < 10);

        Assert.Null(token);
        Assert.All(pages, p => Assert.InRange(p.GetProperty("items").GetArrayLength(), 1, 2));
        var ids = pages.SelectMany(p => Items(p).Select(Id)).ToList();
        Assert.Equal(fixture.Ids.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
        foreach (var page in pages)
        {
            var created = Items(page).Select(d => d.GetProperty("createdAt").GetDateTimeOffset()).ToList();
            Assert.Equal(created.OrderDescending(), created);
        }
    }

    [Fact]
    public async Task List_WithoutParameters_IsOnePageOfFullStatusDocuments_NewestFirst()
    {
        var page = await fixture.Host.Client.GetFromJsonAsync<JsonElement>("/api/transactions");

        Assert.Equal(JsonValueKind.Null, page.GetProperty("continuationToken").ValueKind);
        Assert.Equal(fixture.Ids.AsEnumerable().Reverse(), Items(page).Select(Id));
        var aborted = Items(page).Single(d => Id(d) == fixture.Ids[2]);
        Assert.Equal("Aborted", aborted.GetProperty("status").GetString());
        Assert.Equal("participant 'bank' voted No: insufficient funds in '" + fixture.From + "'", aborted.GetProperty("reason").GetString());
        Assert.Equal(2, aborted.GetProperty("participants").GetArrayLength());
    }

    [Theory]
    [InlineData("Aborted", new[] { 2 })]
    [InlineData("Committed", new[] { 4, 3, 1, 0 })]
    [InlineData("Preparing", new int[0])]
    public async Task List_WithAStatus_ShowsOnlyTransactionsInThatStatus(string status, int[] expected)
    {
        var page = await fixture.Host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?status={status}");

        Assert.Equal(expected.Select(i => fixture.Ids[i]), Items(page).Select(Id));
    }

    [Fact]
    public async Task List_WithAStatusAndTop_PagesThroughTheMatchingOnes()
    {
        var first = await fixture.Host.Client.GetFromJsonAsync<JsonElement>("/api/transactions?status=Committed&top=3");
        var ids = Items(first).Select(Id).ToList();
        var token = first.GetProperty("continuationToken").GetString();
        for (var i = 0; token is not null && i < 5; i++)
        {
            var next = await fixture.Host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?status=Committed&top=3&continuationToken={Uri.EscapeDataString(token)}");
            ids.AddRange(Items(next).Select(Id));
            token = next.GetProperty("continuationToken").GetString();
        }

        Assert.InRange(Items(first).Count(), 1, 3);
        Assert.Null(token);
        Assert.Equal(new[] { 0, 1, 3, 4 }.Select(i => fixture.Ids[i]).Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("status=Sideways", "status")]
    [InlineData("status=1", "status")]
    [InlineData("top=0", "top")]
    [InlineData("top=1001", "top")]
    [InlineData("top=x", "top")]
    [InlineData("continuationToken=garbage!", "continuationToken")]
    [InlineData("continuationToken=", "continuationToken")]

    // Well-formed base64url, but not a token this API issued (a raw task hub token, made-up text, a token with its check altered).
    [InlineData("continuationToken=dCM", "continuationToken")]
    [InlineData("continuationToken=aGVsbG8gd29ybGQ", "continuationToken")]
    [InlineData("continuationToken=MDAwMDAwMDAwMDAwMDAwMC50Iw", "continuationToken")]
    public async Task List_WithABadParameter_Is400ProblemNamingIt(string query, string field)
    {
        var response = await fixture.Host.Client.GetAsync($"/api/transactions?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    private static IEnumerable<JsonElement> Items(JsonElement page) => page.GetProperty("items").EnumerateArray();

    private static string Id(JsonElement document) => document.GetProperty("id").GetString()!;

    /// <summary>A host with five finished transfers, in this order: the third aborted (funds short), the others committed.</summary>
    public sealed class Fixture : HostFixture, IAsyncLifetime
    {
        public List<string> Ids { get; } = [.. Enumerable.Range(0, 5).Select(i => TestHost.Id($"list{i}"))];

        public string From { get; } = TestHost.Id("from");

        async Task IAsyncLifetime.InitializeAsync()
        {
            await InitializeAsync();
            var to = TestHost.Id("to");
            await Host.PutAccountAsync(From, 1000);
            await Host.PutAccountAsync(to, 0);
            for (var i = 0; i < Ids.Count; i++)
            {
                var response = await Host.StartAsync(TestHost.Transfer(Ids[i], From, to, i == 2 ? 5000 : 1), waitSeconds: 30);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }
    }
}

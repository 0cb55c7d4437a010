using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Serverless.Testing;
using static Microsoft.Playwright.Assertions;

namespace Serverless.Dashboard.Tests;

/// <summary>The host the dashboard tests use: an API key is configured, so the page must pass it on every call.</summary>
public sealed class KeyedHostFixture : IAsyncLifetime
{
    public const string ApiKey = "dashboard-test-key-0123456789";

    private TestHost? _host;

    public TestHost Host => _host ?? throw new InvalidOperationException("The host fixture has not been initialized yet.");

    public async Task InitializeAsync()
    {
        _host = await TestHost.StartAsync(new Dictionary<string, string?> { ["TRANSACTIONS_API_KEY"] = ApiKey });
        _host.Client.DefaultRequestHeaders.Add("x-functions-key", ApiKey);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

/// <summary>
/// <c>GET /api/dashboard</c> in a real headless Chromium against the real host: what it lists, its filter, its abort
/// button, its highlighting, its key rule and its Content-Security-Policy. Screenshots go to <c>TestResults/</c>.
/// </summary>
public sealed partial class DashboardTests(KeyedHostFixture hostFixture, BrowserFixture browserFixture)
    : IClassFixture<KeyedHostFixture>, IClassFixture<BrowserFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private TestHost Host => hostFixture.Host;

    [Fact]
    public async Task Dashboard_ListsBranches_FiltersByStatus_AndAbortsAPreparingTransaction()
    {
        var (alice, bob) = (TestHost.Id("alice"), TestHost.Id("bob"));
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(alice, 100)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Host.PutAccountAsync(bob, 0)).StatusCode);
        var committed = TestHost.Id("committed");
        var aborted = TestHost.Id("aborted");
        var preparing = TestHost.Id("preparing");
        (await Host.StartAsync(TestHost.Transfer(committed, alice, bob, 30), waitSeconds: 30)).EnsureSuccessStatusCode();
        (await Host.StartAsync(TestHost.Transfer(aborted, alice, bob, 500), waitSeconds: 30)).EnsureSuccessStatusCode();
        // 'ghost' runs nowhere: its inbox is never drained, so this one stays Preparing until someone aborts it.
        (await Host.StartAsync(new
        {
            transactionId = preparing,
            timeoutSeconds = 900,
            participants = new object[]
            {
                new { participant = "bank", operation = new { type = "debit", account = alice, amount = 1 } },
                new { participant = "ghost", operation = new { type = "anything" } },
            },
        })).EnsureSuccessStatusCode();
        var committedDoc = await Host.WaitForStatusAsync(committed, Wait, "Committed");
        var abortedDoc = await Host.WaitForStatusAsync(aborted, Wait, "Aborted");
        await Host.WaitForStatusAsync(preparing, Wait, "Preparing");

        var page = await NewPageAsync();
        var problems = WatchForErrors(page);
        await page.GotoAsync($"{Host.Client.BaseAddress}api/dashboard?code={KeyedHostFixture.ApiKey}");

        // Both ended transactions, each branch as the API reports it: vote, outcome, reason.
        await AssertRowMatchesAsync(page, committedDoc);
        await AssertRowMatchesAsync(page, abortedDoc);
        var abortedRow = Row(page, aborted);
        await Expect(abortedRow.Locator("table.branches tbody tr").First).ToContainTextAsync("No");
        await Expect(abortedRow.Locator("table.branches tbody tr").First).ToContainTextAsync($"insufficient funds in '{alice}'");
        await Expect(abortedRow).ToContainTextAsync("voted No");
        await Expect(Row(page, committed).Locator("button")).ToHaveCountAsync(0);
        await Expect(Row(page, preparing)).ToHaveAttributeAsync("data-status", "Preparing");

        // The filter narrows the list to one status, and back.
        await page.SelectOptionAsync("#status-filter", "Committed");
        await Expect(Row(page, aborted)).ToHaveCountAsync(0);
        await Expect(Row(page, committed)).ToHaveCountAsync(1);
        await Expect(page.Locator("#rows > tr:not([data-status='Committed'])")).ToHaveCountAsync(0);
        await page.SelectOptionAsync("#status-filter", "Aborted");
        await Expect(Row(page, committed)).ToHaveCountAsync(0);
        await Expect(Row(page, aborted)).ToHaveCountAsync(1);
        await Expect(page.Locator("#rows > tr:not([data-status='Aborted'])")).ToHaveCountAsync(0);
        await page.SelectOptionAsync("#status-filter", "");
        await Expect(Row(page, preparing)).ToHaveCountAsync(1);

        // Abort, confirmed in the browser's dialog: the row turns Aborting (ghost owes its rollback forever) and the API agrees.
        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = $"Abort transaction {preparing}" }).ClickAsync();
        await Expect(Row(page, preparing)).ToHaveAttributeAsync("data-status", AbortingOrAborted());
        await Expect(page.Locator("#message")).ToContainTextAsync($"Abort requested for {preparing}");
        await Expect(Row(page, preparing).Locator("button")).ToHaveCountAsync(0);
        var afterAbort = await Host.GetStatusAsync(preparing);
        Assert.Matches(AbortingOrAborted(), afterAbort.GetProperty("status").GetString());
        Assert.Equal("Abort", afterAbort.GetProperty("decision").GetString());

        await ScreenshotAsync(page, "dashboard.png");
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Dashboard_HighlightsWhatIsInDoubtOrStuck_AndWritesValuesAsText()
    {
        var now = DateTimeOffset.UtcNow;
        static object Branch(string participant, string? vote, string? outcome, string? reason = null, string kind = "2pc", string? heuristic = null) =>
            new { participant, vote, reason, outcome, kind, heuristic };
        object Tx(string id, string status, string? decision, string? reason, TimeSpan age, TimeSpan? decidedAgo, TimeSpan deadlineIn, params object[] branches) => new
        {
            id, status, decision, reason,
            createdAt = now - age, decidedAt = now - decidedAgo, completedAt = (DateTimeOffset?)null,
            participants = branches, deadline = now - age + deadlineIn,
        };
        var items = new[]
        {
            Tx("fresh-preparing", "Preparing", null, null, TimeSpan.FromSeconds(5), null, TimeSpan.FromMinutes(5), Branch("bank", "Yes", null), Branch("ghost", null, null)),
            Tx("late-preparing", "Preparing", null, null, TimeSpan.FromMinutes(10), null, TimeSpan.FromMinutes(1), Branch("bank", "Yes", null), Branch("ghost", null, null)),
            Tx("long-aborting", "Aborting", "Abort", "the vote deadline passed", TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(3), TimeSpan.FromMinutes(1),
                Branch("bank", "Yes", "RolledBack"), Branch("ghost", "Yes", null)),
            Tx("failed-orchestration", "Aborting", null,
                "the orchestration failed (InvalidOperationException: boom) before a decision was recorded; presumed abort: in-doubt resolution rolls back any prepared branch",
                TimeSpan.FromSeconds(20), null, TimeSpan.FromMinutes(1), Branch("bank", "Yes", null)),
            Tx("heuristic", "Committed", "Commit", null, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(1),
                Branch("bank", "Yes", "Committed"), Branch("inventory", "Yes", "RolledBack")),
            Tx("compensation-failing", "Aborting", "Abort", "saga action of 'payments' was not applied: insufficient funds in 'carol'",
                TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(20), TimeSpan.FromMinutes(1),
                Branch("inventory", "Yes", "RolledBack", kind: "tcc"),
                Branch("payments", "Yes", null, kind: "saga", heuristic: "compensation failed 3 times; it is retried until it succeeds, and the action's effect remains until then. Last failure: payments answered 503"),
                Branch("payments", "No", "RolledBack", "insufficient funds in 'carol'", kind: "saga")),
            Tx("markup", "Aborted", "Abort", "<img src=x id=injected>", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1),
                Branch("<b>bank</b>", "No", null, "<script>document.title='pwned'</script>")),
        };
        var body = JsonSerializer.Serialize(new { items, continuationToken = (string?)null }, new JsonSerializerOptions(JsonSerializerDefaults.Web));

        var page = await NewPageAsync();
        var problems = WatchForErrors(page);
        await page.RouteAsync(ListRoute(), route => route.FulfillAsync(new() { Status = 200, ContentType = "application/json", Body = body }));
        await page.GotoAsync($"{Host.Client.BaseAddress}api/dashboard?code={KeyedHostFixture.ApiKey}");

        await Expect(Row(page, "markup")).ToHaveCountAsync(1);
        foreach (var healthy in new[] { "fresh-preparing", "markup" })
        {
            await Expect(Row(page, healthy)).Not.ToHaveClassAsync(new Regex("stuck"));
        }

        await Expect(Row(page, "late-preparing")).ToHaveClassAsync(new Regex("stuck"));
        await Expect(Row(page, "late-preparing")).ToContainTextAsync("past its vote deadline");
        await Expect(Row(page, "late-preparing").Locator("tr.holding")).ToContainTextAsync("bank");
        await Expect(Row(page, "long-aborting")).ToContainTextAsync("Aborting for 3 min after the decision");
        await Expect(Row(page, "long-aborting").Locator("tr.holding")).ToContainTextAsync("ghost");
        await Expect(Row(page, "long-aborting")).ToContainTextAsync("1 branch still holding a reservation");
        await Expect(Row(page, "failed-orchestration")).ToContainTextAsync("in doubt");
        await Expect(Row(page, "heuristic")).ToContainTextAsync("heuristic outcome");
        await Expect(Row(page, "heuristic").Locator("tr.heuristic")).ToContainTextAsync("inventory");
        await Expect(Row(page, "compensation-failing")).ToHaveClassAsync(new Regex("stuck"));
        await Expect(Row(page, "compensation-failing")).ToContainTextAsync("a saga compensation keeps failing");
        var failing = Row(page, "compensation-failing").Locator("tr.heuristic");
        await Expect(failing).ToHaveCountAsync(1);
        await Expect(failing.Locator("td")).ToHaveTextAsync(new[] { new Regex("^2$"), new Regex("^payments$"), new Regex("^saga$"), new Regex("^Yes$"), new Regex("^—$"), new Regex("^compensation failed 3 times.*payments answered 503$") });
        await Expect(page.Locator("#summary")).ToContainTextAsync("5 in doubt or stuck");

        // Values are text, never markup.
        await Expect(Row(page, "markup")).ToContainTextAsync("<img src=x id=injected>");
        await Expect(Row(page, "markup")).ToContainTextAsync("<b>bank</b>");
        await Expect(page.Locator("#injected")).ToHaveCountAsync(0);
        Assert.DoesNotContain("pwned", await page.TitleAsync(), StringComparison.Ordinal);

        await ScreenshotAsync(page, "dashboard-highlights.png");
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Dashboard_PagesWithTheContinuationToken_AndSendsTheKeyAsAHeaderOnly()
    {
        static string Page(string id, string? token) => JsonSerializer.Serialize(
            new
            {
                items = new[]
                {
                    new
                    {
                        id, status = "Committed", decision = "Commit", reason = (string?)null, createdAt = DateTimeOffset.UtcNow,
                        decidedAt = DateTimeOffset.UtcNow, completedAt = DateTimeOffset.UtcNow, deadline = DateTimeOffset.UtcNow,
                        participants = new[] { new { participant = "bank", vote = "Yes", reason = (string?)null, outcome = "Committed" } },
                    },
                },
                continuationToken = token,
            },
            new JsonSerializerOptions(JsonSerializerDefaults.Web));
        var requests = new List<(string Url, string? Key)>();
        var page = await NewPageAsync();
        await page.RouteAsync(ListRoute(), async route =>
        {
            lock (requests)
            {
                requests.Add((route.Request.Url, route.Request.Headers.GetValueOrDefault("x-functions-key")));
            }

            var second = route.Request.Url.Contains("continuationToken=token%2F2", StringComparison.Ordinal);
            await route.FulfillAsync(new() { Status = 200, ContentType = "application/json", Body = second ? Page("on-page-2", null) : Page("on-page-1", "token/2") });
        });
        await page.GotoAsync($"{Host.Client.BaseAddress}api/dashboard?code={KeyedHostFixture.ApiKey}");
        await page.UncheckAsync("#auto-refresh");

        await Expect(Row(page, "on-page-1")).ToHaveCountAsync(1);
        await Expect(page.Locator("#previous-page")).ToBeDisabledAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Next page" }).ClickAsync();
        await Expect(Row(page, "on-page-2")).ToHaveCountAsync(1);
        await Expect(page.Locator("#page-number")).ToHaveTextAsync("Page 2");
        await Expect(page.Locator("#next-page")).ToBeDisabledAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Previous page" }).ClickAsync();
        await Expect(Row(page, "on-page-1")).ToHaveCountAsync(1);

        // The row of page 1 is on screen already: wait for the list's answer to the new page size itself.
        await page.RunAndWaitForResponseAsync(() => page.SelectOptionAsync("#page-size", "10"), r => r.Url.EndsWith("top=10", StringComparison.Ordinal));
        await Expect(Row(page, "on-page-1")).ToHaveCountAsync(1);

        List<(string Url, string? Key)> seen;
        lock (requests)
        {
            seen = [.. requests];
        }

        Assert.True(seen.Count >= 4, $"only {seen.Count} list requests");
        Assert.All(seen, r => Assert.Equal(KeyedHostFixture.ApiKey, r.Key));
        Assert.All(seen, r => Assert.DoesNotContain("code=", r.Url, StringComparison.Ordinal));
        Assert.Contains(seen, r => r.Url.Contains("top=25&continuationToken=token%2F2", StringComparison.Ordinal));
        Assert.EndsWith("top=10", seen[^1].Url, StringComparison.Ordinal);
        Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length + sessionStorage.length"));
        Assert.Empty(await page.Context.CookiesAsync());
    }

    [Fact]
    public async Task Dashboard_WithoutTheKey_Is401_AndWithIt_IsHtmlUnderAStrictContentSecurityPolicy()
    {
        using var anonymous = new HttpClient { BaseAddress = Host.Client.BaseAddress };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/dashboard")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/dashboard?code=wrong")).StatusCode);

        var response = await anonymous.GetAsync($"/api/dashboard?code={KeyedHostFixture.ApiKey}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("default-src 'none'", policy, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.Ordinal);
        var html = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(KeyedHostFixture.ApiKey, html, StringComparison.Ordinal);
        Assert.DoesNotMatch(ExternalReference(), html);

        // The page's own calls are refused without the key too: it says how to open it.
        var page = await NewPageAsync();
        await page.RouteAsync(new Regex("/api/dashboard$"), route => route.FulfillAsync(new() { Status = 200, ContentType = "text/html", Body = html }));
        await page.GotoAsync($"{Host.Client.BaseAddress}api/dashboard");
        await Expect(page.Locator("#message")).ToContainTextAsync("/api/dashboard?code=");
    }

    private async Task<IPage> NewPageAsync()
    {
        var context = await browserFixture.Browser.NewContextAsync(new() { ViewportSize = new() { Width = 1400, Height = 900 } });
        context.SetDefaultTimeout((float)Wait.TotalMilliseconds);
        return await context.NewPageAsync();
    }

    /// <summary>Console errors (a CSP refusal among them) and uncaught script errors of the page.</summary>
    private static List<string> WatchForErrors(IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add(error);
            }
        };
        return errors;
    }

    private static ILocator Row(IPage page, string id) => page.Locator($"#rows > tr[data-id='{id}']");

    private static async Task AssertRowMatchesAsync(IPage page, JsonElement document)
    {
        var row = Row(page, document.GetProperty("id").GetString()!);
        await Expect(row).ToHaveAttributeAsync("data-status", document.GetProperty("status").GetString()!);
        var branches = document.GetProperty("participants").EnumerateArray().ToList();
        var cells = row.Locator("table.branches tbody tr");
        await Expect(cells).ToHaveCountAsync(branches.Count);
        for (var i = 0; i < branches.Count; i++)
        {
            var expected = branches[i];
            var text = (Func<string, string>)(name => expected.GetProperty(name).GetString() ?? "—");
            await Expect(cells.Nth(i).Locator("td")).ToHaveTextAsync(
                [(i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), text("participant"), text("kind"), text("vote"), text("outcome"),
                 expected.GetProperty("reason").GetString() ?? string.Empty]);
        }
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(RepositoryRoot.Find(), "TestResults");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name);
        await page.ScreenshotAsync(new() { Path = path, FullPage = true });
        Assert.True(new FileInfo(path).Length > 10_000, $"the screenshot {path} is suspiciously small");
    }

    [GeneratedRegex("^(Aborting|Aborted)$")]
    private static partial Regex AbortingOrAborted();

    [GeneratedRegex(@"/api/transactions\?")]
    private static partial Regex ListRoute();

    /// <summary>A script, stylesheet, font or image from anywhere (the page must load nothing).</summary>
    [GeneratedRegex(@"<(script|link|img|iframe)[^>]*(src|href)\s*=\s*""(?!data:)", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}

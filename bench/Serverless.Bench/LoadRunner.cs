using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Serverless.Bench;

/// <summary>What the clients saw in one phase.</summary>
/// <param name="Started">Transactions started (fewer than the scenario's count when the phase hit its time limit).</param>
/// <param name="Committed">Ended Committed.</param>
/// <param name="Aborted">Ended Aborted.</param>
/// <param name="Unfinished">Not ended when the client gave up waiting.</param>
/// <param name="Errors">Failed requests (a non-success status, a broken connection).</param>
/// <param name="Elapsed">From the first start request to the last final status.</param>
/// <param name="LatenciesMs">Client-observed latency of each finished transaction, sorted.</param>
/// <param name="DecideMs">Server-side time from the record's creation to the decision, sorted (empty for the textbook: its answer has no times).</param>
/// <param name="Phase2Ms">Server-side time from the decision to the last acknowledgement, sorted (empty for the textbook).</param>
/// <param name="FirstError">The first failure, for the report.</param>
/// <param name="Refused">Starts answered 429 by admission control (each then sent again after its Retry-After, and counted once more if refused again).</param>
public sealed record LoadResult(int Started, int Committed, int Aborted, int Unfinished, int Errors, TimeSpan Elapsed, double[] LatenciesMs, double[] DecideMs, double[] Phase2Ms, string? FirstError, int Refused = 0)
{
    public int Finished => Committed + Aborted;

    public double CommittedPerSecond => Committed / Elapsed.TotalSeconds;

    public double FinishedPerSecond => Finished / Elapsed.TotalSeconds;

    /// <summary>Nearest-rank percentile of the end-to-end latency of finished transactions, in milliseconds.</summary>
    public double Percentile(double p) => Percentile(LatenciesMs, p);

    public static double Percentile(double[] sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>
/// Runs a <see cref="Scenario"/> over real HTTP: <see cref="Scenario.Concurrency"/> clients, each starting a
/// transaction with <c>waitSeconds</c> and, when it is answered 202 (not ended in time), polling its status. The
/// latency is the client-observed time from sending the start request to seeing the final status. The scenario's
/// <see cref="Scenario.Orchestration"/> picks the routes (<c>/api/transactions</c> or <c>/api/textbook/transactions</c>,
/// each with <c>/{id}</c> for the status); both answer a document with <c>status</c>, and the product's also has the
/// server-side times (<c>createdAt</c>, <c>decidedAt</c>, <c>completedAt</c>), read when present.
/// </summary>
public static class LoadRunner
{
    private const int WaitSeconds = 30;
    private static readonly TimeSpan GiveUpAfter = TimeSpan.FromSeconds(60);

    // Only transactions that outlived the 30 s wait are polled: a second is fine-grained enough for them, and every poll
    // is a read of the instance that the app's storage count (and Azurite) would otherwise pay ten times a second.
    private static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(1);

    /// <param name="hosts">One client per host process; transactions go to them round-robin.</param>
    /// <param name="scenario">What to run.</param>
    /// <param name="workload">The data and request bodies.</param>
    /// <param name="timeoutSeconds">Every transaction's vote deadline.</param>
    /// <param name="seed">Seeds the random choice of accounts.</param>
    /// <param name="startFor">No transaction is started after this long, so a slow machine still ends the phase.</param>
    /// <param name="cancellationToken">Ends the run.</param>
    public static async Task<LoadResult> RunAsync(IReadOnlyList<HttpClient> hosts, Scenario scenario, Workload workload, int timeoutSeconds, int seed, TimeSpan startFor, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hosts);
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(workload);
        var next = -1;
        int committed = 0, aborted = 0, unfinished = 0, errors = 0, refused = 0;
        string? firstError = null;
        var latencies = new double[scenario.Transactions];
        var decide = new double[scenario.Transactions];
        var phase2 = new double[scenario.Transactions];
        var finished = new bool[scenario.Transactions];
        var timed = new bool[scenario.Transactions];
        var route = Route(scenario.Orchestration);
        var started = Stopwatch.StartNew();

        async Task WorkerAsync(int worker)
        {
            var random = new Random(seed * 7919 + worker);
            while (true)
            {
                if (started.Elapsed > startFor)
                {
                    return;
                }

                var index = Interlocked.Increment(ref next);
                if (index >= scenario.Transactions)
                {
                    return;
                }

                var id = $"{scenario.Name}-{index:D6}";
                var body = workload.Request(scenario, id, timeoutSeconds, random);
                var client = hosts[index % hosts.Count];
                var t0 = Stopwatch.GetTimestamp();
                try
                {
                    var document = await StartAndWaitAsync(client, route, id, body, () => Interlocked.Increment(ref refused), cancellationToken);
                    var ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    var status = document.GetProperty("status").GetString();
                    if (status is "Committed" or "Aborted")
                    {
                        Interlocked.Increment(ref status == "Committed" ? ref committed : ref aborted);
                        (latencies[index], finished[index]) = (ms, true);
                        if (document.TryGetProperty("decidedAt", out var decidedAt) && decidedAt.ValueKind == JsonValueKind.String)
                        {
                            var created = document.GetProperty("createdAt").GetDateTimeOffset();
                            var decided = decidedAt.GetDateTimeOffset();
                            decide[index] = (decided - created).TotalMilliseconds;
                            phase2[index] = (document.GetProperty("completedAt").GetDateTimeOffset() - decided).TotalMilliseconds;
                            timed[index] = true;
                        }
                    }
                    else
                    {
                        Interlocked.Increment(ref unfinished);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, $"{id}: {ex.GetType().Name}: {ex.Message}", null);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, scenario.Concurrency).Select(w => Task.Run(() => WorkerAsync(w), cancellationToken)));
        var elapsed = started.Elapsed;
        static double[] Where(double[] values, bool[] which) => [.. values.Where((_, i) => which[i]).Order()];
        return new LoadResult(Math.Min(next + 1, scenario.Transactions), committed, aborted, unfinished, errors, elapsed,
            Where(latencies, finished), Where(decide, timed), Where(phase2, timed), firstError, refused);
    }

    /// <summary>The transactions route of <paramref name="orchestration"/>: POST to start, GET <c>{route}/{id}</c> for the status.</summary>
    public static string Route(Orchestration orchestration) => orchestration switch
    {
        Orchestration.Product => "/api/transactions",
        Orchestration.Textbook => "/api/" + Textbook.TextbookNames.Route,
        _ => throw new ArgumentOutOfRangeException(nameof(orchestration), orchestration, null),
    };

    /// <summary>
    /// Starts the transaction and returns its final status document (or the last one seen when it did not end in time). A
    /// start refused with 429 is sent again after its Retry-After, as a client should; the latency includes that wait.
    /// </summary>
    private static async Task<JsonElement> StartAndWaitAsync(HttpClient client, string route, string id, object body, Action onRefused, CancellationToken cancellationToken)
    {
        HttpResponseMessage started;
        while ((started = await client.PostAsJsonAsync($"{route}?waitSeconds={WaitSeconds}", body, cancellationToken)).StatusCode == HttpStatusCode.TooManyRequests)
        {
            onRefused();
            var retryAfter = started.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            started.Dispose();
            await Task.Delay(retryAfter, cancellationToken);
        }

        using (var response = started)
        {
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            }

            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"start answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }

        var deadline = Stopwatch.StartNew();
        JsonElement document;
        do
        {
            await Task.Delay(PollEvery, cancellationToken);
            using var status = await client.GetAsync($"{route}/{id}", cancellationToken);
            status.EnsureSuccessStatusCode();
            document = await status.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        }
        while (document.GetProperty("status").GetString() is not ("Committed" or "Aborted") && deadline.Elapsed < GiveUpAfter);

        return document;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Serverless.Crash.Tests;

/// <summary>A client that sees its transfer through whatever happens to the hosts, the way a careful caller would.</summary>
public static class TransferClient
{
    /// <summary>
    /// Starts the transfer, repeating the same request (same transaction id) through connection failures and 5xx
    /// answers, and after a 429 (admission control, while a restarted host works off its backlog) once its Retry-After has
    /// passed, then polls its status until it ends. After a failed request it turns to the next of
    /// <paramref name="hosts"/> (one host: the same one again). Returns how many requests failed and were repeated.
    /// </summary>
    /// <exception cref="TimeoutException">The transfer had not ended after <paramref name="patience"/>.</exception>
    public static async Task<int> RunAsync(Transfer transfer, TimeSpan patience, params HttpClient[] hosts)
    {
        ArgumentNullException.ThrowIfNull(transfer);
        ArgumentNullException.ThrowIfNull(hosts);
        var stopwatch = Stopwatch.StartNew();
        var repeated = 0;
        var started = false;
        var host = 0;
        while (true)
        {
            if (stopwatch.Elapsed > patience)
            {
                throw new TimeoutException($"transfer {transfer.Id} did not end within {patience.TotalSeconds} s (started: {started})");
            }

            var http = hosts[host % hosts.Length];
            try
            {
                if (!started)
                {
                    using var response = await http.PostAsJsonAsync("/api/transactions?waitSeconds=5", transfer.Body());
                    if (response.StatusCode == HttpStatusCode.OK)
                    {
                        return repeated;
                    }

                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        started = true;
                        continue;
                    }

                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        repeated++;
                        await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                        continue;
                    }

                    Assert.True((int)response.StatusCode >= 500, $"start of {transfer.Id}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    repeated++;
                    host++;
                }
                else
                {
                    using var response = await http.GetAsync($"/api/transactions/{transfer.Id}");
                    Assert.True(response.StatusCode != HttpStatusCode.NotFound, $"transfer {transfer.Id} was accepted and then forgotten");
                    if (response.IsSuccessStatusCode
                        && (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString() is "Committed" or "Aborted")
                    {
                        return repeated;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The host is down or was killed mid-request: ask again, with the same transaction id.
                repeated++;
                host++;
            }

            await Task.Delay(started ? 250 : 100);
        }
    }
}

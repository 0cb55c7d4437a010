namespace Serverless.Testing;

/// <summary>Asks a process that may not be listening yet whether it answers.</summary>
public static class HttpProbe
{
    /// <summary>True when GET <paramref name="path"/> answers 2xx; false when it answers otherwise, refuses the connection or times out.</summary>
    public static Task<bool> AnswersAsync(HttpClient client, string path, CancellationToken cancellationToken = default) =>
        AnswersAsync(client, path, status => (int)status is >= 200 and < 300, cancellationToken);

    /// <summary>True when GET <paramref name="path"/> answers a status <paramref name="expected"/> takes; false when it answers otherwise, refuses the connection or times out.</summary>
    public static async Task<bool> AnswersAsync(HttpClient client, string path, Func<System.Net.HttpStatusCode, bool> expected, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(expected);
        try
        {
            using var response = await client.GetAsync(path, cancellationToken);
            return expected(response.StatusCode);
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}

namespace Serverless.Testing;

/// <summary>Asks a process that may not be listening yet whether it answers.</summary>
public static class HttpProbe
{
    /// <summary>True when GET <paramref name="path"/> answers 2xx; false when it answers otherwise, refuses the connection or times out.</summary>
    public static async Task<bool> AnswersAsync(HttpClient client, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            using var response = await client.GetAsync(path, cancellationToken);
            return response.IsSuccessStatusCode;
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

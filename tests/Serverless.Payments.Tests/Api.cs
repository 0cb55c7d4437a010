using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Serverless.Testing;

namespace Serverless.Payments.Tests;

/// <summary>An answer of the service: its status code and its JSON body (a problem document for errors).</summary>
public sealed record Answer(HttpStatusCode Status, JsonElement Body, string? ContentType)
{
    public string? Text(string property) => Body.TryGetProperty(property, out var value) ? value.GetString() : null;

    public override string ToString() => $"{(int)Status} {Body}";
}

/// <summary>The calls the tests make, over plain HTTP as the app will.</summary>
public static class Api
{
    /// <summary>A fresh account id or idempotency key ("alice-k3x9abcd").</summary>
    public static string NewId(string name) => $"{name}-{TestNames.UniquePrefix()}";

    public static Task<Answer> ChargeAsync(this HttpClient client, string key, string account, long amount, CancellationToken cancellationToken = default) =>
        client.ChargeAsync(key, JsonSerializer.Serialize(new { account, amount }), cancellationToken);

    public static async Task<Answer> ChargeAsync(this HttpClient client, string? key, string body, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/charges")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        return await AnswerOfAsync(response, cancellationToken);
    }

    public static async Task<Answer> RefundAsync(this HttpClient client, string key, CancellationToken cancellationToken = default)
    {
        using var response = await client.PostAsync($"/charges/{key}/refund", content: null, cancellationToken);
        return await AnswerOfAsync(response, cancellationToken);
    }

    /// <summary>GET <paramref name="path"/> as an <see cref="Answer"/>.</summary>
    public static async Task<Answer> ReadAsync(this HttpClient client, string path, CancellationToken cancellationToken = default)
    {
        using var response = await client.GetAsync(path, cancellationToken);
        return await AnswerOfAsync(response, cancellationToken);
    }

    public static async Task<Answer> PutAsync(this HttpClient client, string path, string body, CancellationToken cancellationToken = default)
    {
        using var response = await client.PutAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
        return await AnswerOfAsync(response, cancellationToken);
    }

    private static async Task<Answer> AnswerOfAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        var body = text.Length == 0 ? default : JsonSerializer.Deserialize<JsonElement>(text);
        return new Answer(response.StatusCode, body, response.Content.Headers.ContentType?.MediaType);
    }
}

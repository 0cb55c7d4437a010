using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Core.Participants;

namespace Serverless.Participants.Payments;

/// <summary>
/// The <c>payments</c> saga participant: an external payment service over HTTP. The action of
/// <c>{"type":"charge","account":id,"amount":n}</c> is <c>POST /charges</c> with the branch's key as its
/// <c>Idempotency-Key</c>; the compensation is <c>POST /charges/{key}/refund</c>, which also cancels a charge that has not
/// arrived yet.
/// </summary>
/// <param name="http">A client whose base address is the service's and whose timeout bounds a call that hangs.</param>
public sealed class PaymentsClient(HttpClient http) : ISagaParticipant
{
    public async Task<SagaActionResult> ApplyAsync(string key, string operation, CancellationToken cancellationToken)
    {
        if (ParseCharge(operation) is not ({ } account, { } amount))
        {
            return SagaActionResult.NotApplied("the operation must be {\"type\":\"charge\",\"account\":id,\"amount\":n} with n a positive integer");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "charges") { Content = JsonContent.Create(new { account, amount }) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await http.SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return SagaActionResult.Done;
        }

        if ((int)response.StatusCode is >= 400 and < 500 and not (int)HttpStatusCode.RequestTimeout and not (int)HttpStatusCode.TooManyRequests)
        {
            // A definite refusal (declined, cancelled by its compensation, a request the service rejects): nothing was taken.
            return SagaActionResult.NotApplied(await ReasonAsync(response, cancellationToken));
        }

        throw new HttpRequestException($"payments answered {(int)response.StatusCode} to charge '{key}': {await ReasonAsync(response, cancellationToken)}", null, response.StatusCode);
    }

    public async Task CompensateAsync(string key, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync($"charges/{Uri.EscapeDataString(key)}/refund", null, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"payments answered {(int)response.StatusCode} to refund '{key}': {await ReasonAsync(response, cancellationToken)}", null, response.StatusCode);
        }
    }

    private static (string?, long?) ParseCharge(string operation)
    {
        try
        {
            using var doc = JsonDocument.Parse(operation);
            var root = doc.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "charge"
                && root.TryGetProperty("account", out var account) && account.ValueKind == JsonValueKind.String && account.GetString() is { Length: > 0 } name
                && root.TryGetProperty("amount", out var amount) && amount.ValueKind == JsonValueKind.Number && amount.TryGetInt64(out var n) && n > 0
                ? (name, n)
                : (null, null);
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    /// <summary>The service's reason: a problem document's <c>detail</c>, a charge's <c>reason</c>, else the status line.</summary>
    private static async Task<string> ReasonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var field in (ReadOnlySpan<string>)["reason", "detail", "title"])
            {
                if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(field, out var text) && text.ValueKind == JsonValueKind.String)
                {
                    return text.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the status line says it.
        }

        return $"{(int)response.StatusCode} {response.ReasonPhrase}";
    }
}

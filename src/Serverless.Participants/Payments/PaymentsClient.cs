using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Core.Participants;

namespace Serverless.Participants.Payments;

/// <summary>
/// The <c>payments</c> saga participant: an external payment service over HTTP. The action of
/// <c>{"type":"charge","account":id,"amount":n}</c> is <c>POST /charges</c> with the branch's key as its
/// <c>Idempotency-Key</c>; the compensation is <c>POST /charges/{key}/refund</c>, which also cancels a charge that has not
/// arrived yet. Every call carries <c>Authorization: Bearer {PAYMENTS_API_KEY}</c>.
/// </summary>
/// <remarks>
/// Only two answers to a charge are a definite "not applied": 402 (declined, or refused because its key was cancelled by
/// the compensation or refunded) and 400 (a request the service rejects as malformed: nothing is taken, and the same
/// request is rejected again). Every other failure throws, so that the outcome counts as unknown and the charge is
/// retried with the same key: 5xx, a timeout, 401 (this app's key is not the service's: a configuration error, not a
/// decline), 409 (the key already holds another charge), and anything else.
/// </remarks>
public sealed class PaymentsClient : ISagaParticipant
{
    /// <summary>The setting that holds the service's key: named in the errors a 401 raises.</summary>
    public const string ApiKeySetting = "PAYMENTS_API_KEY";

    private readonly HttpClient _http;
    private readonly AuthenticationHeaderValue _bearer;

    /// <param name="http">A client whose base address is the service's and whose timeout bounds a call that hangs.</param>
    /// <param name="apiKey">The service's key (<c>PAYMENTS_API_KEY</c>), sent as the bearer of every call.</param>
    public PaymentsClient(HttpClient http, string apiKey)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentException.ThrowIfNullOrWhiteSpace(apiKey);
        _http = http;
        _bearer = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public async Task<SagaActionResult> ApplyAsync(string key, string operation, CancellationToken cancellationToken)
    {
        if (ParseCharge(operation) is not ({ } account, { } amount))
        {
            return SagaActionResult.NotApplied("the operation must be {\"type\":\"charge\",\"account\":id,\"amount\":n} with n a positive integer");
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "charges") { Content = JsonContent.Create(new { account, amount }) };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await SendAsync(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return SagaActionResult.Done;
        }

        switch (response.StatusCode)
        {
            case HttpStatusCode.PaymentRequired or HttpStatusCode.BadRequest:
                // A definite refusal: declined (funds, no such account), cancelled by its compensation or refunded (402), or
                // a request the service rejects as malformed (400). Nothing was taken, and asking again changes nothing.
                return SagaActionResult.NotApplied(await ReasonAsync(response, cancellationToken));
            case HttpStatusCode.Conflict:
                // The key already holds another charge (another account or amount): not this branch's, and not a decline.
                // Read as "not applied", it would abort the transaction as if the customer had been declined. Thrown, the
                // outcome is unknown: retried with the key, and what happened is in the activity's failure (the log and
                // the abort reason). It cannot stop what an abort then does: the compensation refunds by the key, that
                // is the charge the key holds, someone else's. Only keys that no one else can use prevent that.
                throw new HttpRequestException(
                    $"payments answered 409 to charge '{key}': Idempotency-Key '{key}' already holds another charge, not this branch's " +
                    $"{amount} to '{account}', so this one was not taken, nor declined ({await ReasonAsync(response, cancellationToken)})",
                    null,
                    response.StatusCode);
            default:
                throw await FailureAsync(response, $"charge '{key}'", cancellationToken);
        }
    }

    public async Task CompensateAsync(string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"charges/{Uri.EscapeDataString(key)}/refund");
        using var response = await SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(response, $"refund '{key}'", cancellationToken);
        }
    }

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = _bearer;
        return _http.SendAsync(request, cancellationToken);
    }

    /// <summary>
    /// The error of an answer whose outcome is unknown. A 401 says which setting to fix: this app's key is missing from the
    /// request or is not the service's, a configuration error that no decline should hide.
    /// </summary>
    private static async Task<HttpRequestException> FailureAsync(HttpResponseMessage response, string call, CancellationToken cancellationToken)
    {
        var reason = await ReasonAsync(response, cancellationToken);
        var message = response.StatusCode == HttpStatusCode.Unauthorized
            ? $"payments answered 401 to {call}: the payment service does not accept this app's {ApiKeySetting}; set it to the service's key ({reason})"
            : $"payments answered {(int)response.StatusCode} to {call}: {reason}";
        return new HttpRequestException(message, null, response.StatusCode);
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

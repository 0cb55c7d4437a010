using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Serverless.Payments;

public sealed record AccountDocument(string Account, long Balance);

public sealed record AccountList(IReadOnlyList<AccountDocument> Items);

/// <summary>A charge as the API shows it; a void has no account or amount, only a decline (or a refused charge) a reason.</summary>
public sealed record ChargeDocument(string Key, string? Account, long? Amount, string Status, string? Reason = null)
{
    public static ChargeDocument Of(ChargeRecord record) => new(record.Key, record.Account, record.Amount, record.Status, record.Reason);
}

public sealed record FaultDocument(string? Charge, string? Refund, int? Times, long ChargeRequests, long RefundRequests);

/// <summary>The routes: accounts, charges (with their refund, the compensation) and the fault switchboard.</summary>
public static partial class PaymentsApi
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    private const string IdRule = "1 to 128 characters of A-Z a-z 0-9 . _ : -";

    public static IEndpointRouteBuilder MapPaymentsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/accounts", ListAccounts);
        routes.MapGet("/accounts/{account}", GetAccount);
        routes.MapPut("/accounts/{account}", PutAccountAsync);
        routes.MapPost("/charges", ChargeAsync);
        routes.MapGet("/charges/{key}", GetCharge);
        routes.MapPost("/charges/{key}/refund", RefundAsync);
        routes.MapGet("/faults/{account}", GetFaults);
        routes.MapPut("/faults/{account}", PutFaultsAsync);
        routes.MapDelete("/faults/{account}", DeleteFaults);
        return routes;
    }

    private static Ok<AccountList> ListAccounts(PaymentStore store) =>
        TypedResults.Ok(new AccountList([.. store.Accounts().Select(pair => new AccountDocument(pair.Key, pair.Value))]));

    private static Results<Ok<AccountDocument>, ProblemHttpResult> GetAccount(string account, PaymentStore store) =>
        store.Balance(account) is { } balance
            ? TypedResults.Ok(new AccountDocument(account, balance))
            : Problem(StatusCodes.Status404NotFound, $"no account '{account}'");

    private static async Task<Results<Ok<AccountDocument>, ProblemHttpResult>> PutAccountAsync(
        string account, HttpRequest request, PaymentStore store)
    {
        if (!IsId(account))
        {
            return BadRequest($"account must be {IdRule}");
        }

        if (await ReadObjectAsync(request) is not { } body)
        {
            return BadRequest("the body must be a JSON object: {\"balance\": n}");
        }

        if (WholeNumber(body, "balance") is not { } balance || balance < 0)
        {
            return BadRequest("balance must be an integer of at least 0 (minor units)");
        }

        return TypedResults.Ok(new AccountDocument(account, store.SetBalance(account, balance)));
    }

    /// <remarks>
    /// The first request with a key answers 201 (charged) or 402 (declined, or refused because the key was voided). A repeat
    /// with the same account and amount answers from the record: 200 for a charge (not 201, so a caller can tell, though both
    /// mean "charged once"), 402 for a decline, a void or a charge refunded since. Nothing is ever debited twice.
    /// </remarks>
    private static async Task<Results<Created<ChargeDocument>, Ok<ChargeDocument>, JsonHttpResult<ChargeDocument>, ProblemHttpResult>> ChargeAsync(
        HttpContext context, PaymentStore store, FaultSwitchboard faults, IHostApplicationLifetime lifetime, ILogger<FaultSwitchboard> logger)
    {
        var key = context.Request.Headers[IdempotencyKeyHeader].ToString();
        if (!IsId(key))
        {
            return BadRequest($"the {IdempotencyKeyHeader} header is required: {IdRule}");
        }

        if (await ReadObjectAsync(context.Request) is not { } body)
        {
            return BadRequest("the body must be a JSON object: {\"account\": id, \"amount\": n}");
        }

        if (!body.TryGetProperty("account", out var accountElement) || accountElement.ValueKind != JsonValueKind.String
            || accountElement.GetString() is not { } account || !IsId(account))
        {
            return BadRequest($"account must be a string of {IdRule}");
        }

        if (WholeNumber(body, "amount") is not { } amount || amount <= 0)
        {
            return BadRequest("amount must be a positive integer (minor units)");
        }

        var fault = faults.OnCharge(account);
        if (fault != Fault.None)
        {
            logger.FaultApplied(fault, "charge", account, key);
        }

        switch (fault)
        {
            case Fault.Fail:
                return Unavailable("the charge was not taken (fault 'fail')");
            case Fault.Hang:
                await HangAsync(context, lifetime);
                return Unavailable("the charge was not taken (fault 'hang')");
        }

        var (outcome, record) = store.Charge(key, account, amount);
        if (fault == Fault.Lose)
        {
            return Unavailable("no answer (fault 'lose': the charge was taken, its answer dropped)");
        }

        return (outcome, record.Status) switch
        {
            (ChargeOutcome.KeyConflict, _) => Problem(
                StatusCodes.Status409Conflict,
                $"{IdempotencyKeyHeader} '{key}' was used for a charge of {record.Amount} to '{record.Account}', not {amount} to '{account}'"),
            (ChargeOutcome.New, ChargeStatus.Charged) => TypedResults.Created($"/charges/{key}", ChargeDocument.Of(record)),
            (_, ChargeStatus.Charged) => TypedResults.Ok(ChargeDocument.Of(record)),
            (_, ChargeStatus.Voided) => PaymentRequired(
                new ChargeDocument(key, account, amount, ChargeStatus.Voided, "the charge was cancelled before it arrived")),
            (_, ChargeStatus.Refunded) => PaymentRequired(ChargeDocument.Of(record) with { Reason = "the charge was refunded" }),
            _ => PaymentRequired(ChargeDocument.Of(record)),
        };
    }

    private static Results<Ok<ChargeDocument>, ProblemHttpResult> GetCharge(string key, PaymentStore store) =>
        store.Charge(key) is { } record
            ? TypedResults.Ok(ChargeDocument.Of(record))
            : Problem(StatusCodes.Status404NotFound, $"no charge with key '{key}'");

    /// <remarks>
    /// The compensation, idempotent, always 200 unless faulted: refunded (now or before), declined (nothing to give back), or
    /// voided (the key was never charged; a charge arriving later with it is refused).
    /// </remarks>
    private static async Task<Results<Ok<ChargeDocument>, ProblemHttpResult>> RefundAsync(
        string key, HttpContext context, PaymentStore store, FaultSwitchboard faults, IHostApplicationLifetime lifetime, ILogger<FaultSwitchboard> logger)
    {
        if (!IsId(key))
        {
            return BadRequest($"the key must be {IdRule}");
        }

        // A fault belongs to the charge's account; a key never charged has none, so no fault applies to it.
        if (store.Charge(key)?.Account is { } account)
        {
            var fault = faults.OnRefund(account);
            if (fault != Fault.None)
            {
                logger.FaultApplied(fault, "refund", account, key);
            }

            switch (fault)
            {
                case Fault.Fail:
                    return Unavailable("the refund was not made (fault 'fail')");
                case Fault.Hang:
                    await HangAsync(context, lifetime);
                    return Unavailable("the refund was not made (fault 'hang')");
            }
        }

        return TypedResults.Ok(ChargeDocument.Of(store.Refund(key)));
    }

    private static Ok<FaultDocument> GetFaults(string account, FaultSwitchboard faults)
    {
        var state = faults.State(account);
        return TypedResults.Ok(new FaultDocument(Wire(state.Charge), Wire(state.Refund), state.Times, state.ChargeRequests, state.RefundRequests));
    }

    private static async Task<Results<Ok<FaultDocument>, ProblemHttpResult>> PutFaultsAsync(
        string account, HttpRequest request, FaultSwitchboard faults)
    {
        if (await ReadObjectAsync(request) is not { } body)
        {
            return BadRequest("the body must be a JSON object: {\"charge\": null|\"fail\"|\"hang\"|\"lose\", \"refund\": null|\"fail\"|\"hang\", \"times\": null|n}");
        }

        if (FaultField(body, "charge", Fault.Fail, Fault.Hang, Fault.Lose) is not { } charge)
        {
            return BadRequest("charge must be null, \"fail\", \"hang\" or \"lose\"");
        }

        if (FaultField(body, "refund", Fault.Fail, Fault.Hang) is not { } refund)
        {
            return BadRequest("refund must be null, \"fail\" or \"hang\"");
        }

        int? times = null;
        if (body.TryGetProperty("times", out var timesElement) && timesElement.ValueKind != JsonValueKind.Null)
        {
            if (timesElement.ValueKind != JsonValueKind.Number || !timesElement.TryGetInt32(out var n) || n < 1)
            {
                return BadRequest("times must be null (until cleared) or an integer of at least 1");
            }

            times = n;
        }

        faults.Set(account, charge, refund, times);
        return TypedResults.Ok(GetFaults(account, faults).Value!);
    }

    private static Ok<FaultDocument> DeleteFaults(string account, FaultSwitchboard faults)
    {
        faults.Clear(account);
        return GetFaults(account, faults);
    }

    // Never answers: waits until the client gives up (or the service stops), then lets the request end unanswered.
    private static async Task HangAsync(HttpContext context, IHostApplicationLifetime lifetime)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, either.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<JsonElement?> ReadObjectAsync(HttpRequest request)
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body, cancellationToken: request.HttpContext.RequestAborted);
            return body.ValueKind == JsonValueKind.Object ? body : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static long? WholeNumber(JsonElement body, string name) =>
        body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)
            ? number
            : null;

    // Null when the field is not one of the allowed faults; Fault.None for null or absent.
    private static Fault? FaultField(JsonElement body, string name, params Fault[] allowed)
    {
        if (!body.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return Fault.None;
        }

        return value.ValueKind == JsonValueKind.String && Enum.TryParse<Fault>(value.GetString(), ignoreCase: true, out var fault)
            && allowed.Contains(fault) && value.GetString() == Wire(fault)
            ? fault
            : null;
    }

    private static string? Wire(Fault fault) => fault == Fault.None ? null : fault.ToString().ToLowerInvariant();

    private static bool IsId(string? value) => value is not null && IdPattern().IsMatch(value);

    private static ProblemHttpResult BadRequest(string detail) => Problem(StatusCodes.Status400BadRequest, detail);

    private static ProblemHttpResult Unavailable(string detail) => Problem(StatusCodes.Status503ServiceUnavailable, detail);

    private static ProblemHttpResult Problem(int status, string detail) => TypedResults.Problem(detail: detail, statusCode: status);

    private static JsonHttpResult<ChargeDocument> PaymentRequired(ChargeDocument document) =>
        TypedResults.Json(document, statusCode: StatusCodes.Status402PaymentRequired);

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex IdPattern();
}

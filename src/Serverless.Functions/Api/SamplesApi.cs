using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Samples;

namespace Serverless.Functions.Api;

/// <summary>The seeding and reading routes of the sample participants <c>bank</c> and <c>inventory</c>.</summary>
public static class SamplesApi
{
    private const long MaxAmount = 1_000_000_000_000_000;

    public sealed record AccountDocument(string Account, long Balance, long Held);

    public sealed record ItemDocument(string Sku, long Stock, long Reserved);

    public static void MapBankApi(this RouteGroupBuilder api)
    {
        api.MapPut("/bank/accounts/{account}", async Task<Results<Ok<AccountDocument>, ProblemHttpResult>> (string account, HttpRequest request, BankResourceManager bank, CancellationToken ct) =>
        {
            var (value, problem) = await ReadAmountAsync(request, account, "balance", ct);
            if (problem is not null)
            {
                return problem;
            }

            await bank.SetBalanceAsync(account, value, ct);
            var (balance, held) = (await bank.GetAccountAsync(account, ct))!.Value;
            return TypedResults.Ok(new AccountDocument(account, balance, held));
        });
        api.MapGet("/bank/accounts/{account}", async Task<Results<Ok<AccountDocument>, ProblemHttpResult>> (string account, BankResourceManager bank, CancellationToken ct) =>
            TableResourceManager<BankOperation>.IsValidKey(account) && await bank.GetAccountAsync(account, ct) is { } a
                ? TypedResults.Ok(new AccountDocument(account, a.Balance, a.Held))
                : TypedResults.Problem($"no account '{account}'", statusCode: StatusCodes.Status404NotFound, title: "Not found."));
    }

    public static void MapInventoryApi(this RouteGroupBuilder api)
    {
        api.MapPut("/inventory/items/{sku}", async Task<Results<Ok<ItemDocument>, ProblemHttpResult>> (string sku, HttpRequest request, InventoryResourceManager inventory, CancellationToken ct) =>
        {
            var (value, problem) = await ReadAmountAsync(request, sku, "stock", ct);
            if (problem is not null)
            {
                return problem;
            }

            await inventory.SetStockAsync(sku, value, ct);
            var (stock, reserved) = (await inventory.GetItemAsync(sku, ct))!.Value;
            return TypedResults.Ok(new ItemDocument(sku, stock, reserved));
        });
        api.MapGet("/inventory/items/{sku}", async Task<Results<Ok<ItemDocument>, ProblemHttpResult>> (string sku, InventoryResourceManager inventory, CancellationToken ct) =>
            TableResourceManager<InventoryOperation>.IsValidKey(sku) && await inventory.GetItemAsync(sku, ct) is { } i
                ? TypedResults.Ok(new ItemDocument(sku, i.Stock, i.Reserved))
                : TypedResults.Problem($"no item '{sku}'", statusCode: StatusCodes.Status404NotFound, title: "Not found."));
    }

    public static void MapOrdersApi(this RouteGroupBuilder api)
    {
        api.MapGet("/orders/{orderId}", async Task<Results<Ok<Serverless.Participants.Postgres.Order>, ProblemHttpResult>> (string orderId, Participants.OrdersResourceManager orders, CancellationToken ct) =>
            TableResourceManager<BankOperation>.IsValidKey(orderId) && await orders.Orders.GetOrderAsync(orderId, ct) is { } order
                ? TypedResults.Ok(order)
                : TypedResults.Problem($"no order '{orderId}'", statusCode: StatusCodes.Status404NotFound, title: "Not found."));
    }

    /// <summary>Reads <c>{"field": n}</c> with n a whole number from 0 to 10^15, validating the key too.</summary>
    private static async Task<(long Value, ProblemHttpResult? Problem)> ReadAmountAsync(HttpRequest request, string key, string field, CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!TableResourceManager<BankOperation>.IsValidKey(key))
        {
            errors["id"] = ["Must be 1-64 letters, digits, '-', '_' or '.'."];
        }

        var (body, problem) = await Problems.ReadJsonBodyAsync(request, 4096, StartRequestParser.DocumentOptions, ct);
        if (problem is not null)
        {
            return (0, problem);
        }

        using (body)
        {
            long value = 0;
            if (body!.RootElement.ValueKind != JsonValueKind.Object || !body.RootElement.TryGetProperty(field, out var v)
                || v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out value) || value is < 0 or > MaxAmount)
            {
                errors[field] = ["Required: a whole number from 0 to 10^15 (minor units)."];
            }

            return errors.Count > 0 ? (0, Problems.Validation(errors)) : (value, null);
        }
    }
}

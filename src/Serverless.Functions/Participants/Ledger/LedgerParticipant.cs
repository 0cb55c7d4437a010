using LedgerDatabase = Serverless.Participants.MySql.LedgerParticipant;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Functions.Http;
using Serverless.Functions.Settings;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Participants.Ledger;

/// <summary>
/// The sample <c>ledger</c> participant as a module: accounts and entries in MySQL (<c>LEDGER_MYSQL_CONNECTION</c>), changed
/// inside an XA transaction that is <c>XA PREPARE</c>d on prepare; its inbox <c>tx-participant-ledger</c>; its routes
/// <c>PUT|GET /api/ledger/accounts/{account}</c>; its prepared branches (XA RECOVER) finished by the <c>ResolveInDoubt</c>
/// timer through the one in-doubt resolver. Without a connection string the app does not run it.
/// </summary>
public sealed class LedgerParticipant(InAppInbox inbox, ApiGuard guard, LedgerDatabase? ledger = null)
{
    public const string Name = "ledger";

    public sealed record AccountDocument(string Account, long Balance);

    public static IServiceCollection Register(IServiceCollection services, TransactionsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.LedgerConnectionString is not { } connection)
        {
            return services;
        }

        services.AddSingleton(sp => new LedgerDatabase(connection, Name, logger: sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Ledger")));
        return services.AddParticipant(Name, sp => sp.GetRequiredService<LedgerDatabase>().ResourceManager);
    }

    [Function("LedgerParticipant")]
    public Task Inbox([QueueTrigger(QueueNames.ParticipantPrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutLedgerAccount")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "ledger/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
        {
            if (ledger is null)
            {
                return NotConfigured();
            }

            var (value, problem) = await AmountBody.ReadAsync(request, account, "balance", ct);
            if (problem is not null)
            {
                return problem;
            }

            if (!await ledger.SetBalanceAsync(account, value, ct))
            {
                return TypedResults.Problem($"account '{account}' is held by a transaction that is not decided yet; try again later",
                    statusCode: StatusCodes.Status409Conflict, title: "Conflict.");
            }

            return TypedResults.Ok(new AccountDocument(account, (await ledger.GetBalanceAsync(account, ct))!.Value));
        });

    [Function("GetLedgerAccount")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "ledger/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
        {
            if (ledger is null)
            {
                return NotConfigured();
            }

            return await ledger.GetBalanceAsync(account, ct) is { } balance
                ? TypedResults.Ok(new AccountDocument(account, balance))
                : AmountBody.NotFound($"account '{account}'");
        });

    private static IResult NotConfigured() =>
        TypedResults.Problem("the ledger participant is not configured: set LEDGER_MYSQL_CONNECTION", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable.");
}

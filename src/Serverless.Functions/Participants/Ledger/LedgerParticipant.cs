using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Core.Participants;
using Serverless.Functions.Api;
using Serverless.Functions.Hosting;
using Serverless.Functions.Storage;
using Serverless.Participants.MySql;

namespace Serverless.Functions.Participants.Ledger;

/// <summary>
/// The sample <c>ledger</c> participant as a module: accounts and entries in MySQL (<c>LEDGER_MYSQL_CONNECTION</c>), changed
/// inside an XA transaction that is <c>XA PREPARE</c>d on prepare; its inbox <c>tx-participant-ledger</c>; its routes
/// <c>PUT|GET /api/ledger/accounts/{account}</c>; its prepared branches (XA RECOVER) finished by the <c>ResolveInDoubt</c>
/// timer through the one in-doubt resolver. Without a connection string the app does not run it.
/// </summary>
public sealed class LedgerParticipant(ParticipantInbox inbox, ParticipantRegistry participants, ApiGuard guard)
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

        return services.AddParticipant(Name, sp => new LedgerResourceManager(new Serverless.Participants.MySql.LedgerParticipant(
            connection, Name, logger: sp.GetRequiredService<ILoggerFactory>().CreateLogger("Serverless.Ledger"))));
    }

    [Function("LedgerParticipant")]
    public Task Inbox([QueueTrigger(StorageNames.ParticipantQueuePrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutLedgerAccount")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "ledger/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
        {
            if (Ledger() is not { } ledger)
            {
                return NotConfigured();
            }

            var (value, problem) = await AmountBody.ReadAsync(request, account, "balance", ct);
            if (problem is not null)
            {
                return problem;
            }

            if (!await ledger.Ledger.SetBalanceAsync(account, value, ct))
            {
                return TypedResults.Problem($"account '{account}' is held by a transaction that is not decided yet; try again later",
                    statusCode: StatusCodes.Status409Conflict, title: "Conflict.");
            }

            return TypedResults.Ok(new AccountDocument(account, (await ledger.Ledger.GetBalanceAsync(account, ct))!.Value));
        });

    [Function("GetLedgerAccount")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "ledger/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
        {
            if (Ledger() is not { } ledger)
            {
                return NotConfigured();
            }

            return await ledger.Ledger.GetBalanceAsync(account, ct) is { } balance
                ? TypedResults.Ok(new AccountDocument(account, balance))
                : AmountBody.NotFound($"account '{account}'");
        });

    private LedgerResourceManager? Ledger() => participants.Find(Name) as LedgerResourceManager;

    private static IResult NotConfigured() =>
        TypedResults.Problem("the ledger participant is not configured: set LEDGER_MYSQL_CONNECTION", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable.");
}

/// <summary>The ledger database as a resource manager whose schema is created at start and whose prepared XA branches in-doubt resolution can list.</summary>
public sealed class LedgerResourceManager(Serverless.Participants.MySql.LedgerParticipant ledger) : IResourceManager, IRequiresInitialization, IPreparedBranchSource
{
    public Serverless.Participants.MySql.LedgerParticipant Ledger => ledger;

    public Task EnsureCreatedAsync(CancellationToken cancellationToken = default) => ledger.EnsureSchemaAsync(cancellationToken);

    public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        ledger.ResourceManager.PrepareAsync(branch, operation, cancellationToken);

    public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        ledger.ResourceManager.CommitAsync(branch, operation, cancellationToken);

    public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) =>
        ledger.ResourceManager.RollbackAsync(branch, operation, cancellationToken);

    /// <summary>The branches MySQL holds prepared (<c>XA RECOVER</c>, this participant's xids only); commit and rollback of a prepared branch need no operation.</summary>
    public async Task<IReadOnlyList<PreparedBranch>> ListPreparedAsync(DateTimeOffset preparedBefore, int max, CancellationToken cancellationToken = default)
    {
        var olderThan = DateTimeOffset.UtcNow - preparedBefore;
        var inDoubt = await ledger.ResourceManager.ListInDoubtAsync(olderThan < TimeSpan.Zero ? TimeSpan.Zero : olderThan, cancellationToken);
        return [.. inDoubt.Take(max).Select(b => new PreparedBranch(b.Branch, "{}", b.PreparedAt))];
    }
}

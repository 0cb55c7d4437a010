using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Api;
using Serverless.Functions.Storage;
using Serverless.Participants.Samples;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants.Bank;

/// <summary>
/// The sample <c>bank</c> participant as a module: accounts in the Table <c>BankAccounts</c> (<see cref="BankResourceManager"/>),
/// its inbox <c>tx-participant-bank</c>, and its routes <c>PUT|GET /api/bank/accounts/{account}</c>.
/// </summary>
public sealed class BankParticipant(ParticipantInbox inbox, BankResourceManager bank, ApiGuard guard)
{
    public const string Name = "bank";

    public sealed record AccountDocument(string Account, long Balance, long Held);

    public static IServiceCollection Register(IServiceCollection services) =>
        services.AddParticipant(Name, sp => new BankResourceManager(sp.GetRequiredService<StorageClients>().Tables.GetTableClient("BankAccounts")));

    [Function("BankParticipant")]
    public Task Inbox([QueueTrigger(StorageNames.ParticipantQueuePrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutBankAccount")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "bank/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
        {
            var (value, problem) = await AmountBody.ReadAsync(request, account, "balance", ct);
            if (problem is not null)
            {
                return problem;
            }

            await bank.SetBalanceAsync(account, value, ct);
            var (balance, held) = (await bank.GetAccountAsync(account, ct))!.Value;
            return TypedResults.Ok(new AccountDocument(account, balance, held));
        });

    [Function("GetBankAccount")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "bank/accounts/{account}")] HttpRequest request, string account) =>
        guard.RunAsync(request, async ct =>
            TableResourceManager<BankOperation>.IsValidKey(account) && await bank.GetAccountAsync(account, ct) is { } a
                ? TypedResults.Ok(new AccountDocument(account, a.Balance, a.Held))
                : AmountBody.NotFound($"account '{account}'"));
}

using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Functions.Http;
using Serverless.Functions.Storage;
using Serverless.ParticipantKit;
using Serverless.Participants.Samples;

namespace Serverless.Functions.Participants.Bank;

/// <summary>
/// The sample <c>bank</c> participant as a module: accounts in the Table <c>BankAccounts</c> (<see cref="BankResourceManager"/>),
/// its inbox <c>tx-participant-bank</c>, and its routes <c>PUT|GET /api/bank/accounts/{account}</c> answering
/// <c>{"account","balance","held"}</c>.
/// </summary>
public sealed class BankParticipant(InAppInbox inbox, BankResourceManager bank, ApiGuard guard)
    : AmountParticipant<BankOperation>(bank, guard, what: "account", key: "account", amount: "balance", held: "held")
{
    public const string Name = "bank";

    public static IServiceCollection Register(IServiceCollection services) =>
        services.AddParticipant(Name, sp => new BankResourceManager(sp.GetRequiredService<StorageClients>().Tables.GetTableClient("BankAccounts")), BranchKind.TwoPhase, BranchKind.Tcc);

    [Function("BankParticipant")]
    public Task Inbox([QueueTrigger(QueueNames.ParticipantPrefix + Name)] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        inbox.ReceiveAsync(Name, message, client, cancellationToken);

    [Function("PutBankAccount")]
    public Task<IResult> Put([HttpTrigger(AuthorizationLevel.Function, "put", Route = "bank/accounts/{account}")] HttpRequest request, string account) =>
        PutAsync(request, account);

    [Function("GetBankAccount")]
    public Task<IResult> Get([HttpTrigger(AuthorizationLevel.Function, "get", Route = "bank/accounts/{account}")] HttpRequest request, string account) =>
        GetAsync(request, account);
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Runtime.Messaging;
using Serverless.Runtime.Participants;
using Serverless.Runtime.Storage;

namespace Serverless.Functions.Hosting;

/// <summary>
/// In-doubt resolution for the hosted participants whose resource managers can list their prepared branches (the
/// Table-storage ones): at start and then every <see cref="TransactionsSettings.InDoubtSeconds"/>, each branch
/// prepared longer ago than that is asked about with an <see cref="MessageKind.Inquiry"/> to the coordinator.
/// </summary>
/// <remarks>
/// The coordinator answers through the normal path: it re-sends the decided commit or rollback, or a rollback when
/// it has no record of the transaction (presumed abort, I4), or nothing while the transaction is still preparing
/// (the participant keeps waiting, I3; it asks again next period). The participant then executes the command like
/// any other, so duplicates are harmless (I5). This is what finishes a branch whose decision was lost (a poisoned
/// command, a lost phase-2 timer) or whose coordinator record never existed.
/// </remarks>
public sealed class InDoubtResolverService(
    IServiceProvider services,
    StorageInitializer storage,
    TransactionsSettings settings,
    TimeProvider time,
    ILogger<InDoubtResolverService> logger) : BackgroundService
{
    /// <summary>Most inquiries one participant sends per pass, so that a large backlog is asked about gradually.</summary>
    public const int MaxInquiriesPerPass = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await storage.Ready.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var period = TimeSpan.FromSeconds(settings.InDoubtSeconds);
        var participants = services.GetServices<ParticipantDispatcher>()
            .Where(d => d.ResourceManager is IPreparedBranchSource)
            .ToList();
        if (participants.Count == 0)
        {
            return;
        }

        var sender = services.GetRequiredService<IMessageSender>();
        var codec = services.GetRequiredService<MessageCodec>();
        var names = services.GetRequiredService<StorageNames>();
        while (!stoppingToken.IsCancellationRequested)
        {
            foreach (var participant in participants)
            {
                try
                {
                    await AskAsync(participant, (IPreparedBranchSource)participant.ResourceManager, period, sender, codec, names, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The next pass asks again.
                    if (StorageErrors.IsUnreachable(ex))
                    {
                        HostLogs.InDoubtStorageUnreachable(logger, participant.Participant, StorageErrors.Describe(ex));
                    }
                    else
                    {
                        HostLogs.InDoubtPassFailed(logger, ex, participant.Participant);
                    }
                }
            }

            await Task.Delay(period, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task AskAsync(
        ParticipantDispatcher participant, IPreparedBranchSource source, TimeSpan period, IMessageSender sender, MessageCodec codec, StorageNames names, CancellationToken cancellationToken)
    {
        var inDoubt = await source.ListPreparedAsync(time.GetUtcNow() - period, MaxInquiriesPerPass, cancellationToken);
        foreach (var branch in inDoubt)
        {
            if (branch.Operation is null)
            {
                HostLogs.InDoubtWithoutOperation(logger, branch.Branch.TransactionId, participant.Participant, branch.Branch.Branch);
                continue;
            }

            HostLogs.InDoubtInquiry(logger, branch.Branch.TransactionId, participant.Participant, branch.Branch.Branch, branch.PreparedAt);
            var inquiry = new ProtocolMessage(MessageKind.Inquiry, branch.Branch.TransactionId)
            {
                Branch = branch.Branch.Branch,
                Participant = participant.Participant,
                Operation = branch.Operation,
            };
            await sender.SendAsync(names.CoordinatorQueue, codec.Encode(inquiry), TimeSpan.Zero, cancellationToken);
        }
    }
}

using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;

namespace Serverless.ParticipantKit;

/// <summary>
/// In-doubt resolution at a participant outside the coordinator's app: each branch held prepared for longer than
/// <see cref="ParticipantKitOptions.InDoubtAfter"/> is asked about with a signed <c>Inquiry</c> in <c>tx-coordinator</c>; the
/// coordinator answers with the decided command in the participant's inbox, or nothing while the transaction may still
/// decide (the next pass asks again). This is what finishes a branch whose phase-2 command was lost.
/// </summary>
/// <remarks>Read-only here (the answer arrives as a command); safe to run from several instances at once.</remarks>
/// <example>
/// <code>
/// [Function("AskInDoubt")]
/// public Task AskInDoubt([TimerTrigger("%TRANSACTIONS_IN_DOUBT_SCHEDULE%")] TimerInfo timer, CancellationToken cancellationToken) =>
///     inquiries.AskAsync(cancellationToken);
/// </code>
/// </example>
public sealed class InDoubtInquiries(
    ParticipantResourceManagers resourceManagers, ParticipantQueues queues, ParticipantKitOptions options, TimeProvider time, ILogger<InDoubtInquiries> logger)
{
    /// <summary>Most branches asked about per participant per pass, so that a large backlog is worked off gradually.</summary>
    public const int MaxBranchesPerPass = 500;

    /// <summary>One pass over every participant of this app whose resource manager lists its prepared branches; returns how many were asked about.</summary>
    public async Task<int> AskAsync(CancellationToken cancellationToken = default)
    {
        var asked = 0;
        foreach (var (participant, resourceManager) in resourceManagers.All())
        {
            if (resourceManager is not IPreparedBranchSource source)
            {
                continue;
            }

            try
            {
                var result = await InDoubtRecovery.RecoverAsync(
                    resourceManager,
                    source,
                    time.GetUtcNow() - options.InDoubtAfter,
                    MaxBranchesPerPass,
                    decide: async (prepared, ct) =>
                    {
                        logger.AskingAboutBranch(prepared.Branch.TransactionId, participant, prepared.Branch.Branch, prepared.PreparedAt);
                        await queues.ReplyAsync(new ProtocolMessage(MessageKind.Inquiry, prepared.Branch.TransactionId)
                        {
                            Branch = prepared.Branch.Branch,
                            Participant = participant,
                            Operation = prepared.Operation,
                        }, ct);
                        return null;
                    },
                    failed: (prepared, exception) => logger.InquiryFailed(exception, prepared.Branch.TransactionId, participant, prepared.Branch.Branch, exception.Message),
                    cancellationToken: cancellationToken);
                asked += result.Undecided;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.InquiryPassFailed(ex, participant);
            }
        }

        return asked;
    }
}

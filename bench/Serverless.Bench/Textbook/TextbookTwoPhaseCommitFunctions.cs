using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Serverless.Core.Messaging;

namespace Serverless.Bench.Textbook;

/// <summary>
/// Two-phase commit written the way the Durable Functions documentation teaches it (fan-out/fan-in of activities, human
/// interaction's "wait for an external event or a timer"), for the benchmark to compare with the product's
/// <c>TwoPhaseCommit</c> on the same engine, host, storage and participant. Not part of the product.
/// </summary>
/// <remarks>
/// <para>What the textbook does not do, and the product does: no decision record written before phase 2 (I2 holds only as
/// far as the orchestration's history does: see DESIGN.md), no phase-2 retries (a lost command leaves its branch prepared
/// until someone resolves it), no abort request, no one-phase shortcut, no status document.</para>
/// <para>The acknowledgement wait is bounded by the transaction's own <c>timeoutSeconds</c> rather than a fixed minute:
/// the timer is cancelled when the acknowledgements come, so its length changes nothing but when the cancelled timer
/// fires (and is discarded), and the benchmark drains every timer within its phase.</para>
/// </remarks>
public sealed class TextbookTwoPhaseCommitFunctions(TextbookInbox inbox)
{
    [Function(TextbookNames.Orchestrator)]
    public static async Task<string> TextbookTwoPhaseCommit([OrchestrationTrigger] TaskOrchestrationContext context, TextbookRequest request)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(request);
        var logger = context.CreateReplaySafeLogger(typeof(TextbookTwoPhaseCommitFunctions).FullName!);
        var deadline = context.CurrentUtcDateTime.AddSeconds(request.TimeoutSeconds);

        // Phase 1: one activity per branch sends its prepare; the votes come back as external events.
        await Task.WhenAll(request.Branches.Select(b => context.CallActivityAsync(TextbookNames.PrepareActivity, Command(request, b))).ToList());
        var votes = Task.WhenAll(request.Branches.Select(b => context.WaitForExternalEvent<TextbookVote>(TextbookNames.Vote(b.Index))).ToList());
        bool commit;
        using (var deadlineTimer = new CancellationTokenSource())
        {
            var timer = context.CreateTimer(deadline, deadlineTimer.Token);
            var first = await Task.WhenAny(votes, timer);
            commit = first == votes && (await votes).All(v => v.Yes);
            if (first != votes)
            {
                logger.TextbookVotesTimedOut(request.Id);
            }

            // An orchestration cannot complete while a timer is pending: cancel it (it still fires later, and is discarded).
            CancelTimer(deadlineTimer);
        }

        // Phase 2: one activity per branch sends its commit or rollback; the acknowledgements come back as external events.
        var phase2 = commit ? TextbookNames.CommitActivity : TextbookNames.RollbackActivity;
        await Task.WhenAll(request.Branches.Select(b => context.CallActivityAsync(phase2, Command(request, b))).ToList());
        var acks = Task.WhenAll(request.Branches.Select(b => context.WaitForExternalEvent<string>(TextbookNames.Ack(b.Index))).ToList());
        using (var ackTimer = new CancellationTokenSource())
        {
            var timer = context.CreateTimer(context.CurrentUtcDateTime.AddSeconds(request.TimeoutSeconds), ackTimer.Token);
            if (await Task.WhenAny(acks, timer) != acks)
            {
                logger.TextbookAcksTimedOut(request.Id);
            }

            CancelTimer(ackTimer);
        }

        return commit ? TextbookNames.Committed : TextbookNames.Aborted;
    }

    [Function(TextbookNames.PrepareActivity)]
    public Task TextbookPrepare([ActivityTrigger] TextbookCommand command, CancellationToken cancellationToken) =>
        inbox.SendAsync(MessageKind.Prepare, command, cancellationToken);

    [Function(TextbookNames.CommitActivity)]
    public Task TextbookCommit([ActivityTrigger] TextbookCommand command, CancellationToken cancellationToken) =>
        inbox.SendAsync(MessageKind.Commit, command, cancellationToken);

    [Function(TextbookNames.RollbackActivity)]
    public Task TextbookRollback([ActivityTrigger] TextbookCommand command, CancellationToken cancellationToken) =>
        inbox.SendAsync(MessageKind.Rollback, command, cancellationToken);

    /// <summary>Cancels a timer synchronously: CancelAsync would run its continuation off the orchestration's thread.</summary>
    private static void CancelTimer(CancellationTokenSource timer)
    {
#pragma warning disable CA1849
        timer.Cancel();
#pragma warning restore CA1849
    }

    private static TextbookCommand Command(TextbookRequest request, TextbookBranch branch) =>
        new(request.Id, branch.Index, branch.Participant, branch.Operation);
}

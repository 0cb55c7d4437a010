using System.Text.Json;
using Microsoft.DurableTask.Client;
using Serverless.Core.Protocol;

namespace Serverless.Functions.Coordination;

/// <summary>
/// What a transaction's instance shows, for every read of the API (a status read, a listing, the answer to a waiting start):
/// the view the orchestration published (its custom status, its output once completed), or its input before it first ran.
/// </summary>
public sealed class TransactionViews(DecisionStore decisions)
{
    /// <summary>Runtime statuses of an instance that ended without carrying its transaction to the end.</summary>
#pragma warning disable CS0618 // Canceled is obsolete in the SDK, but a backend may still report it.
    public static readonly IReadOnlyList<OrchestrationRuntimeStatus> EndedWithoutOutcome =
        [OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated, OrchestrationRuntimeStatus.Canceled];
#pragma warning restore CS0618

    /// <summary>
    /// The view of <paramref name="instance"/>; null when it is not a transaction (no input this orchestration can read). A
    /// running transaction whose decision is recorded shows it, also before its orchestration has published it (one more
    /// read, for undecided views only), so that no read shows a transaction undecided once its decision is durable. An
    /// instance that failed or was terminated no longer carries its transaction (in-doubt resolution finishes it from the
    /// decision record), so it shows the recorded decision as Committing or Aborting, or, with none recorded, Aborting
    /// without a decision (presumed abort is the only outcome left, I4), its reason naming how the orchestration ended.
    /// Never Preparing then, and never throws on an input or status it cannot read (a poison input).
    /// </summary>
    public async Task<TransactionView?> ViewOfAsync(OrchestrationMetadata instance, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(instance);
        // A status published before the document carried its id has none.
        var view = Published(instance) is { } published ? published with { Id = instance.InstanceId } : null;
        if (view is { Decision: null } && !EndedWithoutOutcome.Contains(instance.RuntimeStatus))
        {
            // Recorded, but not yet published: the orchestration has not run since (its messages may be leased by a process
            // that died), or an abort request or in-doubt resolution recorded it. The status shows it at once.
            return await decisions.GetAsync(instance.InstanceId, cancellationToken) is { } decided ? Recorded(view, decided) : view;
        }

        if (!EndedWithoutOutcome.Contains(instance.RuntimeStatus) || view is { IsTerminal: true })
        {
            return view;
        }

        view ??= new TransactionView(instance.InstanceId, nameof(TransactionStatus.Preparing), null, null, instance.CreatedAt, null, null, [], instance.CreatedAt);
        var ended = instance.RuntimeStatus == OrchestrationRuntimeStatus.Failed
            ? $"the orchestration failed ({(instance.FailureDetails is { } f ? $"{f.ErrorType}: {f.ErrorMessage}" : instance.SerializedOutput)})"
            : $"the orchestration was {instance.RuntimeStatus.ToString().ToLowerInvariant()}";
        if (await decisions.GetAsync(instance.InstanceId, cancellationToken) is { } recorded)
        {
            return view with
            {
                Status = recorded.Decision == Decision.Commit ? nameof(TransactionStatus.Committing) : nameof(TransactionStatus.Aborting),
                Decision = recorded.Decision.ToString(),
                Reason = Clip(recorded.Reason?.StartsWith(TwoPhaseCommitOrchestration.FailureReasonPrefix, StringComparison.Ordinal) == true
                    ? recorded.Reason
                    : $"{ended}; {recorded.Decision} is recorded{(recorded.Reason is { } why ? $" ({why})" : string.Empty)}; in-doubt resolution finishes the branches"),
                DecidedAt = recorded.DecidedAt,
            };
        }

        return view with
        {
            Status = nameof(TransactionStatus.Aborting),
            Decision = null,
            Reason = Clip($"{ended} before a decision was recorded; presumed abort: in-doubt resolution rolls back any prepared branch"),
            DecidedAt = null,
        };
    }

    /// <summary>An undecided view with the decision that is recorded: Committing or Aborting, and the votes the record was taken on.</summary>
    private static TransactionView Recorded(TransactionView view, DecisionRecord recorded) => view with
    {
        Status = recorded.Decision == Decision.Commit ? nameof(TransactionStatus.Committing) : nameof(TransactionStatus.Aborting),
        Decision = recorded.Decision.ToString(),
        Reason = recorded.Reason is { } reason ? Clip(reason) : null,
        DecidedAt = recorded.DecidedAt,
        Participants = [.. view.Participants.Select((b, i) => b.Vote is null && i < recorded.Votes.Length && recorded.Votes[i] is { } vote
            ? b with { Vote = vote.ToString() }
            : b)],
    };

    /// <summary>The instance's input, or null when it has none or it is not a request (a poison input).</summary>
    public static TransactionRequest? TryReadInput(OrchestrationMetadata instance)
    {
        ArgumentNullException.ThrowIfNull(instance);
        try
        {
            return instance.ReadInputAs<TransactionRequest>() is { Branches: not null } request ? request : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>What the orchestration published: its output once completed, else its custom status, else (before its first episode) its input.</summary>
    private static TransactionView? Published(OrchestrationMetadata instance)
    {
        try
        {
            if (instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed && instance.SerializedOutput is not null)
            {
                return instance.ReadOutputAs<TransactionView>();
            }

            if (instance.SerializedCustomStatus is not null)
            {
                return instance.ReadCustomStatusAs<TransactionView>();
            }
        }
        catch (JsonException)
        {
            // Not written by this version of the orchestration: fall back to the input.
        }

        return TryReadInput(instance) is { } request ? TransactionView.Pending(request) : null;
    }

    private static string Clip(string text) => text.Length > TransactionView.MaxReasonLength ? text[..TransactionView.MaxReasonLength] + "…" : text;
}

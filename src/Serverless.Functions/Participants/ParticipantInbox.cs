using System.Collections.Concurrent;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Faults;
using Serverless.Functions.Messaging;
using Serverless.Functions.Storage;
using Serverless.Functions.Telemetry;

namespace Serverless.Functions.Participants;

/// <summary>
/// What every participant's queue function does with a command from its inbox: verify it, hand it to the participant's
/// resource manager, and raise the vote or acknowledgement on the transaction's orchestration.
/// </summary>
/// <remarks>
/// <para>I5: the function returns (and the Functions host deletes the message) only after the resource manager's step is
/// durable and the reply is raised; a crash in between redelivers the command, and the resource manager answers a
/// repeated command as the first time. A message that cannot be trusted (unsigned, forged, malformed), is addressed to
/// another participant, or contradicts the branch's record is moved to the poison queue and never acted on.</para>
/// <para>One-phase (a single-branch transaction): the participant records the decision its vote implies, first writer
/// wins, and finishes the branch by the recorded decision at once; the prepare is the only command it gets. A deadline
/// or abort recorded first still wins (the branch then rolls back).</para>
/// </remarks>
public sealed class ParticipantInbox(
    ParticipantRegistry participants,
    MessageCodec codec,
    DecisionStore decisions,
    ProtocolQueues queues,
    TransactionEndings endings,
    TimeProvider time,
    ILogger<ParticipantInbox> logger)
{
    /// <summary>Handles one message of <paramref name="participant"/>'s inbox.</summary>
    public async Task HandleAsync(string participant, string message, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var queue = StorageNames.ParticipantQueue(participant);
        if (!codec.TryDecode(message, out var command, out var error))
        {
            await queues.PoisonAsync(queue, message, $"cannot be trusted: {error}", cancellationToken);
            return;
        }

        if (command!.Participant != participant || command.Kind is not (MessageKind.Prepare or MessageKind.Commit or MessageKind.Rollback))
        {
            await queues.PoisonAsync(queue, message, $"a {command.Kind} for participant '{command.Participant}' does not belong in the inbox of '{participant}'", cancellationToken);
            return;
        }

        using var span = TransactionTelemetry.StartParticipant(command, participant);
        ProtocolMessage reply;
        try
        {
            if (command is { Kind: MessageKind.Prepare, Branches: not null, Deadline: not null } && command.Operation!.Length <= BoardVote.MaxOperationLength)
            {
                var vote = await PrepareOnBoardAsync(participant, participants.Get(participant), command, cancellationToken);
                span?.SetTag("transaction.reply", vote.Vote.ToString());
                if (vote.Report is { } report)
                {
                    await ReportAsync(command.TransactionId, report, participant, client, cancellationToken);
                }

                return;
            }

            reply = await ExecuteAsync(participant, participants.Get(participant), command, cancellationToken);
        }
        catch (ProtocolViolationException ex)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            logger.ProtocolViolation(command.TransactionId, participant, command.Branch, command.Kind.ToString(), ex.Message);
            await queues.PoisonAsync(queue, message, ex.Message, cancellationToken);
            return;
        }

        span?.SetTag("transaction.reply", reply.Vote?.ToString() ?? reply.Outcome?.ToString());
        await DeliverAsync(reply, participant, client, cancellationToken);
    }

    /// <summary>Carries out <paramref name="command"/> with the resource manager and returns the reply for the coordinator.</summary>
    public async Task<ProtocolMessage> ExecuteAsync(string participant, IResourceManager resourceManager, ProtocolMessage command, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        ArgumentNullException.ThrowIfNull(command);
        var branch = new BranchKey(command.TransactionId, command.Branch);
        ProtocolMessage reply;
        switch (command.Kind)
        {
            case MessageKind.Prepare:
                var vote = await resourceManager.PrepareAsync(branch, command.Operation!, cancellationToken);
                if (vote.Vote == Vote.Yes)
                {
                    CrashPoints.Reached(CrashPoint.AfterPrepareRecorded, command.TransactionId);
                }

                reply = new ProtocolMessage(MessageKind.Vote, command.TransactionId) { Branch = command.Branch, Vote = vote.Vote, Reason = vote.Reason };
                if (command.OnePhase)
                {
                    reply = await FinishOnePhaseAsync(participant, resourceManager, command, reply, cancellationToken);
                }

                break;
            case MessageKind.Commit or MessageKind.Rollback:
                var decision = command.Kind == MessageKind.Commit ? Decision.Commit : Decision.Abort;
                reply = await FinishAsync(resourceManager, branch, command.Operation!, decision, cancellationToken);
                if (decision == Decision.Commit)
                {
                    CrashPoints.Reached(CrashPoint.AfterCommitApplied, command.TransactionId);
                }

                break;
            default:
                throw new ArgumentException($"a {command.Kind} is not a participant's command", nameof(command));
        }

        logger.ParticipantHandled(command.TransactionId, participant, command.Branch, command.Kind.ToString(),
            reply.Vote?.ToString() ?? reply.Outcome?.ToString() ?? string.Empty);
        return reply;
    }

    /// <summary>Commits or rolls back a branch by <paramref name="decision"/> and returns its acknowledgement.</summary>
    public static async Task<ProtocolMessage> FinishAsync(IResourceManager resourceManager, BranchKey branch, string operation, Decision decision, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resourceManager);
        if (decision == Decision.Commit)
        {
            await resourceManager.CommitAsync(branch, operation, cancellationToken);
        }
        else
        {
            await resourceManager.RollbackAsync(branch, operation, cancellationToken);
        }

        return new ProtocolMessage(MessageKind.Ack, branch.TransactionId)
        {
            Branch = branch.Branch,
            Outcome = decision == Decision.Commit ? BranchOutcome.Committed : BranchOutcome.RolledBack,
        };
    }

    /// <summary>Raises a reply on its transaction's orchestration (the event is durable when this returns).</summary>
    public async Task DeliverAsync(ProtocolMessage reply, string participant, DurableTaskClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(client);
        try
        {
            if (reply.Kind == MessageKind.Vote)
            {
                await RaiseVoteAsync(reply.TransactionId, VoteEvent.From(reply), client, cancellationToken);
            }
            else
            {
                await client.RaiseEventAsync(reply.TransactionId, TransactionEvents.Ack, new AckEvent(reply.Branch, reply.Outcome!.Value), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // No such orchestration (a hand-made command, or history purged): the branch is done; nobody waits for the reply.
            logger.ReplyNotDelivered(reply.TransactionId, participant, reply.Branch, ex.Message);
        }
    }

    /// <summary>The fast-path voters of each transaction being handled in this process, by transaction id.</summary>
    private readonly ConcurrentDictionary<string, LocalRound> _rounds = new(StringComparer.Ordinal);

    /// <summary>
    /// The voters of one transaction that this process is handling at the same time (the prepares of a transfer between two
    /// accounts of this app's bank arrive together, and the start request hands them over together). The Yes or ReadOnly
    /// voter that brings the round to every branch of the transaction records all the votes and Commit in one request; the
    /// others wait for the members still preparing, and stay silent when that succeeds, instead of each writing its vote and
    /// reading the board back.
    /// </summary>
    private sealed class LocalRound
    {
        private readonly Dictionary<int, BoardVote> _votes = [];
        private readonly TaskCompletionSource<bool> _led = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _settled;
        private int _members;
        private int _preparing;
        private bool _complete;

        /// <summary>A voter joins before it prepares its branch.</summary>
        public void Join()
        {
            lock (_votes)
            {
                _members++;
                _preparing++;
            }
        }

        /// <summary>True when the last member left: the round can be forgotten.</summary>
        public bool Leave()
        {
            lock (_votes)
            {
                return --_members == 0;
            }
        }

        /// <summary>A member that brings no Yes or ReadOnly (its branch voted No, or its prepare failed) stops preparing.</summary>
        public void Withdraw()
        {
            lock (_votes)
            {
                Prepared();
            }
        }

        /// <summary>Adds a vote; every vote when this one completes the round (this voter then leads), else null.</summary>
        public IReadOnlyList<BoardVote>? Complete(BoardVote vote, int branches)
        {
            lock (_votes)
            {
                Prepared();
                _votes[vote.Branch] = vote;
                if (_complete || _votes.Count < branches || _votes.Keys.Any(b => b < 0 || b >= branches))
                {
                    return null;
                }

                _complete = true;
                _settled?.TrySetResult();
                return [.. _votes.Values];
            }
        }

        /// <summary>Completes once no member is still preparing (so a leader, if any, is known), or at once when none is.</summary>
        public Task SettledAsync()
        {
            lock (_votes)
            {
                if (_complete || _preparing == 0)
                {
                    return Task.CompletedTask;
                }

                _settled ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _settled.Task;
            }
        }

        /// <summary>The leader's outcome: true when it recorded every vote and Commit.</summary>
        public void Led(bool recorded) => _led.TrySetResult(recorded);

        /// <summary>True when a leader recorded every vote and Commit (waits for its request); false when there is no leader or it failed.</summary>
        public Task<bool> LedToCommitAsync()
        {
            lock (_votes)
            {
                return _complete ? _led.Task : Task.FromResult(false);
            }
        }

        private void Prepared()
        {
            if (--_preparing == 0 && _settled is { } settled)
            {
                _settled = null;
                settled.TrySetResult();
            }
        }
    }

    /// <summary>What a fast-path prepare did: the branch's vote, and the vote event to raise (none while later voters will report it).</summary>
    private sealed record BoardOutcome(Vote Vote, VoteEvent? Report);

    /// <summary>
    /// The fast path's prepare (a prepare that names its transaction's branches and deadline): the branch prepares, puts its
    /// vote on the transaction's vote board (<see cref="DecisionStore.VoteAsync"/>) and reads the board back.
    /// <list type="bullet">
    /// <item>Votes still missing: a Yes or ReadOnly raises nothing (the voter that completes the board reports it); a No is
    /// raised at once, so that the coordinator aborts without waiting.</item>
    /// <item>Board complete: this branch reports every vote in one event. If they are all Yes or ReadOnly, no decision is
    /// recorded and the deadline has not passed, it takes the coordinator's decision itself: it records Commit (first writer
    /// wins: an Abort of the deadline or of an abort request, or another voter's Commit, recorded first leaves it a plain
    /// report), commits every Yes branch whose participant runs in this app in-process, sends the others their commit, and
    /// reports the decision and the branches it finished. The orchestration then ends without a round trip of its own.</item>
    /// </list>
    /// </summary>
    /// <remarks>
    /// I3: a vote goes on the board only after its branch is prepared. I2: Commit is durable before any branch commits or
    /// any command leaves. A crash anywhere redelivers the prepare: the branch's vote is repeated, the board written again and
    /// read again; with the decision already recorded, the report is plain and the orchestration's <c>RecordDecision</c> finds
    /// Commit and sends phase 2 to every branch (duplicates are harmless, I5).
    /// </remarks>
    private async Task<BoardOutcome> PrepareOnBoardAsync(string participant, IResourceManager resourceManager, ProtocolMessage command, CancellationToken cancellationToken)
    {
        var round = _rounds.GetOrAdd(command.TransactionId, _ => new LocalRound());
        round.Join();
        try
        {
            PrepareResult prepared;
            try
            {
                prepared = await resourceManager.PrepareAsync(new BranchKey(command.TransactionId, command.Branch), command.Operation!, cancellationToken);
            }
            catch
            {
                round.Withdraw();
                throw;
            }

            if (prepared.Vote == Vote.Yes)
            {
                CrashPoints.Reached(CrashPoint.AfterPrepareRecorded, command.TransactionId);
            }

            logger.ParticipantHandled(command.TransactionId, participant, command.Branch, command.Kind.ToString(), prepared.Vote.ToString());
            var mine = new BoardVote(command.Branch, prepared.Vote, participant, command.Operation!, prepared.Reason);
            if (prepared.Vote == Vote.No)
            {
                round.Withdraw();
                return await VoteOnBoardAsync(participant, command, mine, round: null, cancellationToken);
            }

            if (round.Complete(mine, command.Branches!.Value) is { } all)
            {
                // Every vote of the transaction is a Yes or ReadOnly of this process: recorded with Commit in one request.
                var recorded = false;
                var votes = all.OrderBy(v => v.Branch).ToList();
                var commit = new DecisionRecord(Decision.Commit, null, Now(), [.. votes.Select(v => (Vote?)v.Vote)]);
                try
                {
                    recorded = commit.DecidedAt < command.Deadline!.Value
                        && (await decisions.RecordWithVotesAsync(command.TransactionId, votes, commit, cancellationToken)).Inserted;
                }
                finally
                {
                    round.Led(recorded);
                }

                if (recorded)
                {
                    logger.DecidedInOneRequest(command.TransactionId, participant, command.Branch, votes.Count);
                    return await CarryOutCommitAsync(participant, command, prepared.Vote, votes, commit, cancellationToken);
                }
            }

            // Members of the round still preparing may complete it: their leader then records this vote too.
            await round.SettledAsync();
            return await VoteOnBoardAsync(participant, command, mine, round, cancellationToken);
        }
        finally
        {
            if (round.Leave())
            {
                _rounds.TryRemove(new KeyValuePair<string, LocalRound>(command.TransactionId, round));
            }
        }
    }

    /// <summary>
    /// The board protocol for one vote: put it on the board, read the board back, and act on what it holds. When the vote
    /// joined a round of this process whose leader recorded every vote with Commit, this voter stays silent.
    /// </summary>
    private async Task<BoardOutcome> VoteOnBoardAsync(string participant, ProtocolMessage command, BoardVote mine, LocalRound? round, CancellationToken cancellationToken)
    {
        var count = command.Branches!.Value;
        if (round is not null && await round.LedToCommitAsync())
        {
            return new BoardOutcome(mine.Vote, null);
        }

        var board = await decisions.VoteAsync(command.TransactionId, mine, cancellationToken);
        if (round is not null && await round.LedToCommitAsync())
        {
            // A member that joined after this one went to the board led the round.
            return new BoardOutcome(mine.Vote, null);
        }

        var own = new VoteEvent(command.Branch, mine.Vote, mine.Reason);
        var votes = board.Votes.Where(v => v.Branch < count).DistinctBy(v => v.Branch).OrderBy(v => v.Branch).ToList();
        if (votes.Count < count)
        {
            return new BoardOutcome(mine.Vote, mine.Vote == Vote.No ? own : null);
        }

        var report = Report(command.Branch, votes);
        var now = Now();
        if (board.Decision is not null || votes.Any(v => v.Vote == Vote.No) || now >= command.Deadline!.Value)
        {
            return new BoardOutcome(mine.Vote, report);
        }

        var commit = new DecisionRecord(Decision.Commit, null, now, [.. votes.Select(v => (Vote?)v.Vote)]);
        var (recorded, inserted) = await decisions.RecordFirstAsync(command.TransactionId, commit, cancellationToken);
        if (!inserted)
        {
            // Another voter read the complete board at the same time and recorded Commit first: it reports every vote (and,
            // should it crash first, its redelivered prepare finds the decision on the board and reports). An Abort recorded
            // first (the deadline, an abort request) is reported with the votes.
            return new BoardOutcome(mine.Vote, recorded.Decision == Decision.Commit ? null : report);
        }

        return await CarryOutCommitAsync(participant, command, mine.Vote, votes, commit, cancellationToken);
    }

    /// <summary>The report of branch <paramref name="branch"/>: its vote, with every other vote of the board.</summary>
    private static VoteEvent Report(int branch, IReadOnlyList<BoardVote> votes)
    {
        var own = votes.First(v => v.Branch == branch);
        return new VoteEvent(branch, own.Vote, own.Reason) { Others = [.. votes.Where(v => v.Branch != branch).Select(v => new VoteEvent(v.Branch, v.Vote, v.Reason))] };
    }

    /// <summary>
    /// After this voter recorded <paramref name="commit"/>: commits every Yes branch of this app's participants in-process,
    /// sends the others their commit, and returns the report that carries the decision and the finished branches; and, when
    /// it committed every Yes branch itself, the transaction's end (<see cref="TransactionEnd"/>).
    /// </summary>
    private async Task<BoardOutcome> CarryOutCommitAsync(
        string participant, ProtocolMessage command, Vote vote, IReadOnlyList<BoardVote> votes, DecisionRecord commit, CancellationToken cancellationToken)
    {
        CrashPoints.Reached(CrashPoint.AfterDecisionRecorded, command.TransactionId);
        var yes = votes.Where(v => v.Vote == Vote.Yes).ToList();
        var here = yes.Where(v => participants.Find(v.Participant) is not null).ToList();
        var elsewhere = yes.Except(here).Select(v => new BranchCommand(MessageKind.Commit, v.Branch, v.Participant, v.Operation)).ToList();
        var sent = queues.SendAsync(command.TransactionId, elsewhere, cancellationToken);
        var committed = await Task.WhenAll(here.Select(v => CommitHereAsync(command.TransactionId, v, cancellationToken)));
        await sent;
        CrashPoints.Reached(CrashPoint.AfterCommitApplied, command.TransactionId);
        var finished = here.Where((_, i) => committed[i]).Select(v => v.Branch).ToList();
        logger.DecidedAtLastVote(command.TransactionId, participant, command.Branch, finished.Count, elsewhere.Count);
        return new BoardOutcome(vote, Report(command.Branch, votes) with
        {
            Decision = Decision.Commit,
            Outcome = finished.Contains(command.Branch) ? BranchOutcome.Committed : null,
            Finished = [.. finished.Where(b => b != command.Branch)],
            Ended = finished.Count == yes.Count ? new TransactionEnd(commit.DecidedAt, Now()) : null,
        });
    }

    /// <summary>Now, to the millisecond: a time a voter records (its decision, the transaction's end) reads back from storage as it was.</summary>
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMillisecond));
    }

    /// <summary>
    /// Raises a fast-path report. A report that ends the transaction (<see cref="VoteEvent.Ended"/>) also has its end recorded
    /// beside the decision, at the same time, and once that is durable a start request of this process waiting for the
    /// transaction is told (<see cref="TransactionEndings"/>): the status shows Committed from then on, wherever it is read,
    /// and the orchestration ends with the same document, from the report or, should that be lost, from the vote board.
    /// </summary>
    private async Task ReportAsync(string transactionId, VoteEvent report, string participant, DurableTaskClient client, CancellationToken cancellationToken)
    {
        var raised = RaiseVoteAsync(transactionId, report, participant, client, cancellationToken);
        if (report.Ended is { } end && await RecordEndAsync(transactionId, end, cancellationToken))
        {
            endings.Ended(transactionId, report);
        }

        await raised;
    }

    /// <summary>Records the end; false when that failed (the status then shows it once the orchestration applied the report).</summary>
    private async Task<bool> RecordEndAsync(string transactionId, TransactionEnd end, CancellationToken cancellationToken)
    {
        try
        {
            await decisions.RecordEndAsync(transactionId, end.CompletedAt, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.EndNotRecorded(transactionId, StorageErrors.Describe(ex));
            return false;
        }
    }

    /// <summary>
    /// Commits a branch of a participant of this app in-process, as its queue function would on a commit command, in a span
    /// of its own; false when that fails (its command is then sent instead, and the orchestration waits for its acknowledgement).
    /// </summary>
    private async Task<bool> CommitHereAsync(string transactionId, BoardVote vote, CancellationToken cancellationToken)
    {
        var command = new ProtocolMessage(MessageKind.Commit, transactionId)
        {
            Branch = vote.Branch,
            Participant = vote.Participant,
            Operation = vote.Operation,
            TraceParent = TransactionTelemetry.CurrentTraceParent,
        };
        using var span = TransactionTelemetry.StartParticipant(command, vote.Participant);
        try
        {
            var ack = await FinishAsync(participants.Get(vote.Participant), new BranchKey(transactionId, vote.Branch), vote.Operation, Decision.Commit, cancellationToken);
            span?.SetTag("transaction.reply", ack.Outcome?.ToString());
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.Message);
            logger.CommitHereFailed(ex, transactionId, vote.Participant, vote.Branch);
            await queues.SendAsync(transactionId, [new BranchCommand(MessageKind.Commit, vote.Branch, vote.Participant, vote.Operation)], cancellationToken);
            return false;
        }
    }

    private static async Task RaiseVoteAsync(string transactionId, VoteEvent vote, DurableTaskClient client, CancellationToken cancellationToken)
    {
        await client.RaiseEventAsync(transactionId, TransactionEvents.Vote, vote, cancellationToken);
        CrashPoints.Reached(CrashPoint.AfterVoteRaised, transactionId);
    }

    /// <summary>Raises a vote; false when its orchestration does not exist (logged).</summary>
    private async Task<bool> RaiseVoteAsync(string transactionId, VoteEvent vote, string participant, DurableTaskClient client, CancellationToken cancellationToken)
    {
        try
        {
            await RaiseVoteAsync(transactionId, vote, client, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            logger.ReplyNotDelivered(transactionId, participant, vote.Branch, ex.Message);
            return false;
        }
    }

    private async Task<ProtocolMessage> FinishOnePhaseAsync(
        string participant, IResourceManager resourceManager, ProtocolMessage command, ProtocolMessage vote, CancellationToken cancellationToken)
    {
        var proposed = vote.Vote == Vote.No
            ? new DecisionRecord(Decision.Abort, Serverless.Core.Protocol.Coordinator.NoVoteReason(participant, vote.Reason), time.GetUtcNow(), [vote.Vote])
            : new DecisionRecord(Decision.Commit, null, time.GetUtcNow(), [vote.Vote]);
        var recorded = await decisions.RecordAsync(command.TransactionId, proposed, cancellationToken);
        BranchOutcome? outcome = null;
        if (vote.Vote == Vote.Yes)
        {
            var ack = await FinishAsync(resourceManager, new BranchKey(command.TransactionId, command.Branch), command.Operation!, recorded.Decision, cancellationToken);
            outcome = ack.Outcome;
        }

        return vote with { Decision = recorded.Decision, Outcome = outcome };
    }
}

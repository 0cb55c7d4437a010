using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>A message in flight: a command to a participant's inbox, or an event for the coordinator's inbox.</summary>
internal abstract record Envelope;

internal enum ParticipantCommandKind
{
    Prepare,
    Commit,

    /// <summary>A rollback; for a saga branch, its compensation.</summary>
    Rollback,

    /// <summary>A saga branch's action.</summary>
    SagaAction,
}

internal sealed record ToParticipant(ParticipantCommandKind Kind, int Branch) : Envelope
{
    public override string ToString() => $"{Kind}({Branch})";
}

internal sealed record ToCoordinator(CoordinatorEvent Event) : Envelope
{
    public bool IsDeadline => Event is VoteDeadlinePassed;

    public bool IsSagaLimit => Event is SagaPhaseTimeLimitPassed;

    /// <summary>A timer that is not visible before it is due: the vote deadline, the saga phase's time limit.</summary>
    public bool IsDueLater => IsDeadline || IsSagaLimit;

    public bool IsTimer => Event is VoteDeadlinePassed or SagaPhaseTimeLimitPassed or Phase2RetryDue;

    public override string ToString() => Event.ToString();
}

/// <summary>Where a saga branch's idempotency key stands at its (simulated) service.</summary>
internal enum SagaKeyState
{
    /// <summary>Neither the action nor the compensation has arrived.</summary>
    Unknown,

    /// <summary>The action took effect.</summary>
    Applied,

    /// <summary>The action was declined: nothing was taken.</summary>
    Declined,

    /// <summary>The action took effect and was undone by the compensation.</summary>
    Compensated,

    /// <summary>The compensation arrived before any action: a later action with this key is refused and takes nothing.</summary>
    Voided,
}

/// <summary>
/// A saga branch's service, modelled on a payment service with idempotency keys: the action takes effect at most once per
/// key and a repeat is answered as the first time; the compensation undoes it once, and one that arrives first voids the
/// key. Counts every effect so that the simulation can check the net effect, whatever the coordinator asked for.
/// </summary>
internal sealed class SagaAccount(int compensationFailures)
{
    public SagaKeyState State { get; set; } = SagaKeyState.Unknown;

    /// <summary>How many times the action took effect. Must never exceed one.</summary>
    public int Applications { get; set; }

    /// <summary>How many times an applied action was undone.</summary>
    public int Compensations { get; set; }

    /// <summary>How many more compensation attempts fail before one succeeds.</summary>
    public int FailuresLeft { get; set; } = compensationFailures;

    /// <summary>The action's first answer, repeated to every later action with the key.</summary>
    public Vote? Answer { get; set; }

    /// <summary>True once the engine reported the action as not applied because its answer was lost (its outcome unknown).</summary>
    public bool ReportedUnknown { get; set; }

    /// <summary>The effect that remains: the action applied and not undone.</summary>
    public int NetEffect => Applications - Compensations;

    public override string ToString() => $"{State} applied={Applications} compensated={Compensations}";
}

/// <summary>An invariant of the protocol does not hold; the message tells the story that led there.</summary>
public sealed class InvariantViolationException(string message) : Exception(message);

/// <summary>
/// One transaction run by the real <see cref="Coordinator"/> and by participants that follow the real
/// <see cref="ParticipantProtocol"/>, over a network of queues that delivers at least once, in any order, with any delay.
/// The coordinator persists a step before executing its commands and deletes an inbound message only afterwards (I5);
/// a crash may lose any of the outgoing messages, and then the inbound message stays to be delivered again.
/// </summary>
internal sealed class World
{
    private const int FairDeliveryLimit = 20_000;

    private static readonly CoordinatorOptions Options = new();
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 10, 0, 0, TimeSpan.Zero);

    private readonly Scenario _scenario;
    private readonly List<Envelope> _inFlight = [];
    private readonly BranchRecord?[] _records;
    private readonly SagaAccount?[] _sagas;
    private readonly Vote?[] _votesSent;
    private readonly List<string> _trace = [];
    private DateTimeOffset _now = Start;

    public World(Scenario scenario)
    {
        _scenario = scenario;
        var count = scenario.Behaviours.Length;
        _records = new BranchRecord?[count];
        _sagas = [.. Enumerable.Range(0, count).Select(i => scenario.KindOf(i) == BranchKind.Saga ? new SagaAccount(scenario.CompensationFailuresOf(i)) : null)];
        _votesSent = new Vote?[count];
        State = TransactionState.Create(
            "tx-sim",
            scenario.Behaviours.Select((_, i) => ("p" + i, $"{{\"branch\":{i}}}", scenario.KindOf(i))),
            Start,
            TimeSpan.FromSeconds(30));

        // As the runtime does: the deadline timer goes out before the record, then the prepares (a crash may cut them short).
        _inFlight.Add(new ToCoordinator(new VoteDeadlinePassed()));
        Execute(Coordinator.Start(State, Options), scenario.InitialPrepareMask);
    }

    public TransactionState State { get; private set; }

    /// <summary>True once a deadline, an abort request or a No vote was applied while the transaction was preparing.</summary>
    public bool AbortCause { get; private set; }

    public bool DeadlineFired { get; private set; }

    /// <summary>True once the saga phase's time-limit timer was delivered.</summary>
    public bool SagaLimitFired { get; private set; }

    /// <summary>True once some saga branch was reported as a heuristic outcome (its compensation kept failing).</summary>
    public bool HeuristicSeen { get; private set; }

    /// <summary>The saga branches' services, null for a prepared branch.</summary>
    public IReadOnlyList<SagaAccount?> Sagas => _sagas;

    /// <summary>Runs the scenario's script, then fair delivery until nothing is in flight, and checks the outcome.</summary>
    public static World RunToQuiescence(Scenario scenario)
    {
        var world = new World(scenario);
        world.RunScript();
        world.RunFairDelivery();
        world.CheckQuiescentOutcome();
        return world;
    }

    public void RunScript()
    {
        foreach (var step in _scenario.Script)
        {
            Perform(step);
        }
    }

    /// <summary>
    /// Delivers everything in flight, oldest first and timers last, until nothing is left; the first
    /// <see cref="Scenario.Outage"/> phase-2 commands are lost on the way.
    /// </summary>
    public void RunFairDelivery()
    {
        var outage = _scenario.Outage;
        for (var delivered = 0; _inFlight.Count > 0; delivered++)
        {
            if (delivered == FairDeliveryLimit)
            {
                Fail($"I7: still {_inFlight.Count} messages in flight after {FairDeliveryLimit} fair deliveries");
            }

            var index = _inFlight.FindIndex(e => e is not ToCoordinator { IsTimer: true });
            if (index < 0)
            {
                index = 0;
            }

            var envelope = _inFlight[index];
            _inFlight.RemoveAt(index);
            if (outage > 0 && envelope is ToParticipant { Kind: ParticipantCommandKind.Commit or ParticipantCommandKind.Rollback })
            {
                outage--;
                _trace.Add($"poison {envelope} (participant down)");
                continue;
            }

            Deliver(envelope, crashMask: null);
        }
    }

    /// <summary>Liveness (I7) and the end state of atomicity (I1): checked once nothing is in flight.</summary>
    public void CheckQuiescentOutcome()
    {
        if (!DeadlineFired)
        {
            Fail("the deadline timer never fired");
        }

        if (!State.Status.IsTerminal())
        {
            Fail($"I7: the transaction is stuck in {State.Status} with nothing in flight");
        }

        for (var i = 0; i < _records.Length; i++)
        {
            var record = _records[i];
            if (record is { Phase: BranchPhase.Prepared, Vote: Vote.Yes })
            {
                Fail($"I7: branch {i} still holds its reservation after the transaction ended {State.Status}");
            }

            if (State.Decision == Decision.Commit && record?.Vote == Vote.Yes && record.Phase != BranchPhase.Committed)
            {
                Fail($"I1: branch {i} voted Yes but ended {record.Phase} under Commit");
            }

            if (State.Decision == Decision.Abort && record?.Phase == BranchPhase.Committed)
            {
                Fail($"I1: branch {i} committed under Abort");
            }
        }

        for (var i = 0; i < _sagas.Length; i++)
        {
            if (_sagas[i] is not { } saga)
            {
                continue;
            }

            if (State.Branches[i].Heuristic is { } heuristic)
            {
                Fail($"saga branch {i} is still a heuristic outcome after the transaction ended: {heuristic}");
            }

            if (State.Decision == Decision.Commit
                && (saga.State != SagaKeyState.Applied || saga.Applications != 1 || saga.Compensations != 0 || State.Branches[i].Outcome != BranchOutcome.Committed))
            {
                Fail($"saga branch {i} ended {saga} (outcome {State.Branches[i].Outcome?.ToString() ?? "none"}) under Commit: its action must be applied exactly once and never compensated");
            }

            if (State.Decision == Decision.Abort
                && (saga.NetEffect != 0 || saga.State is SagaKeyState.Unknown or SagaKeyState.Applied || State.Branches[i].Outcome != BranchOutcome.RolledBack))
            {
                Fail($"saga branch {i} ended {saga} (outcome {State.Branches[i].Outcome?.ToString() ?? "none"}) under Abort: its action must be compensated or voided");
            }
        }

        if (State.Decision == Decision.Abort && !AbortCause)
        {
            Fail("aborted although no participant voted No and neither the deadline nor a client asked for it");
        }
    }

    private void Perform(NetworkStep step)
    {
        var picked = PickNonDeadline(step.Pick);
        switch (step.Action)
        {
            case NetworkAction.Deliver when picked >= 0:
                var envelope = _inFlight[picked];
                _inFlight.RemoveAt(picked);
                Deliver(envelope, crashMask: null);
                break;
            case NetworkAction.Duplicate when picked >= 0:
                _trace.Add($"duplicate {_inFlight[picked]}");
                _inFlight.Add(_inFlight[picked]);
                break;
            case NetworkAction.CrashAfterPersist when picked >= 0:
                Deliver(_inFlight[picked], crashMask: step.Mask);
                break;
            case NetworkAction.FireDeadline:
                var crash = step.Mask % 2 == 0;
                var pending = _inFlight.FindIndex(e => e is ToCoordinator { IsDeadline: true });
                if (!crash && pending >= 0)
                {
                    _inFlight.RemoveAt(pending);
                }
                else if (crash && pending < 0)
                {
                    // A redelivered copy that crashed stays in the queue like any other message.
                    _inFlight.Add(new ToCoordinator(new VoteDeadlinePassed()));
                }

                Deliver(new ToCoordinator(new VoteDeadlinePassed()), crash ? step.Mask >> 1 : null);
                break;
            case NetworkAction.FireSagaLimit:
                // Only once a saga action set it; like the deadline, it may crash after persisting and stay to be redelivered.
                var limit = _inFlight.FindIndex(e => e is ToCoordinator { IsSagaLimit: true });
                if (limit >= 0)
                {
                    var crashLimit = step.Mask % 2 == 0;
                    if (!crashLimit)
                    {
                        _inFlight.RemoveAt(limit);
                    }

                    Deliver(new ToCoordinator(new SagaPhaseTimeLimitPassed()), crashLimit ? step.Mask >> 1 : null);
                }

                break;
            case NetworkAction.RequestAbort:
                _trace.Add("client requests abort");
                ApplyToCoordinator(new AbortRequested("client"), step.Mask % 2 == 0 ? step.Mask >> 1 : null);
                break;
            case NetworkAction.Poison when picked >= 0 && _inFlight[picked] is not ToCoordinator { IsTimer: true }:
                _trace.Add($"poison {_inFlight[picked]}");
                _inFlight.RemoveAt(picked);
                break;
            case NetworkAction.RepeatStart:
                _trace.Add("client repeats start");
                Execute(Coordinator.Resume(State, Options), crashMask: null);
                break;
        }
    }

    /// <summary>Picks among the messages in flight, except the deadline and saga-phase timers, which are not visible before they are due.</summary>
    private int PickNonDeadline(int pick)
    {
        var visible = _inFlight.Count(e => e is not ToCoordinator { IsDueLater: true });
        if (visible == 0)
        {
            return -1;
        }

        var n = pick % visible;
        for (var i = 0; i < _inFlight.Count; i++)
        {
            if (_inFlight[i] is not ToCoordinator { IsDueLater: true } && n-- == 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("unreachable");
    }

    /// <param name="envelope">The message delivered.</param>
    /// <param name="crashMask">Null for a clean delivery; otherwise which outgoing messages went out before the crash.</param>
    private void Deliver(Envelope envelope, int? crashMask)
    {
        _trace.Add($"{(crashMask is null ? "deliver" : "crash during")} {envelope}");
        switch (envelope)
        {
            case ToCoordinator { Event: VoteDeadlinePassed } deadline:
                // A delayed message becomes visible at its due time, never before.
                _now = _now < State.Deadline ? State.Deadline : _now;
                DeadlineFired = true;
                ApplyToCoordinator(deadline.Event, crashMask);
                break;
            case ToCoordinator { Event: SagaPhaseTimeLimitPassed } sagaLimit:
                // Visible at its due time. Should the vote deadline be due first, it fires first (the orchestration applies an
                // overdue timer before a later one), so that the clock never passes the deadline before the deadline fired.
                var due = State.SagaPhaseStartedAt!.Value + Options.SagaPhaseLimit;
                if (!DeadlineFired && due >= State.Deadline)
                {
                    var deadlineAt = _inFlight.FindIndex(e => e is ToCoordinator { IsDeadline: true });
                    if (deadlineAt >= 0)
                    {
                        _inFlight.RemoveAt(deadlineAt);
                    }

                    Deliver(new ToCoordinator(new VoteDeadlinePassed()), crashMask: null);
                }

                _now = _now < due ? due : _now;
                SagaLimitFired = true;
                ApplyToCoordinator(sagaLimit.Event, crashMask);
                break;
            case ToCoordinator c:
                ApplyToCoordinator(c.Event, crashMask);
                break;
            case ToParticipant p:
                var reply = RunParticipant(p);
                if (reply is not null && crashMask is null)
                {
                    _inFlight.Add(new ToCoordinator(reply));
                }

                break;
        }
    }

    private void ApplyToCoordinator(CoordinatorEvent evt, int? crashMask)
    {
        AdvanceClock();
        var before = State;
        var step = Coordinator.Apply(before, evt, _now, Options);
        _trace.Add($"  coordinator {step.Kind} -> {step.State.Status} [{string.Join(", ", step.Commands)}]{(step.Detail is null ? "" : " " + step.Detail)}");
        CoordinatorInvariants.Check(before, evt, step, _records, _sagas, Options, Fail);
        if (before.Status == TransactionStatus.Preparing && step.Kind == StepKind.Applied
            && evt is VoteDeadlinePassed or SagaPhaseTimeLimitPassed or AbortRequested or VoteCast { Vote: Vote.No })
        {
            AbortCause = true;
        }

        State = step.State;
        HeuristicSeen |= State.Branches.Any(b => b.Heuristic is not null);
        Execute(step.Commands, crashMask);
    }

    /// <summary>
    /// One second per coordinator event, except that the clock never reaches the vote deadline on its own: in this model
    /// the deadline passes when its timer fires (<see cref="NetworkAction.FireDeadline"/>, or fair delivery once nothing
    /// else is in flight), and until then the timer stays hidden as not yet due. A clock that ran past the deadline by
    /// counting events would apply events after the deadline while its timer is still held back, a time the model's timers
    /// contradict (a saga phase's limit due before the deadline would then be applied after it, with the deadline unfired).
    /// </summary>
    private void AdvanceClock()
    {
        var next = _now.AddSeconds(1);
        var lastBeforeDeadline = State.Deadline.AddTicks(-1);
        _now = DeadlineFired || next <= lastBeforeDeadline ? next : lastBeforeDeadline;
    }

    private void Execute(IReadOnlyList<CoordinatorCommand> commands, int? crashMask)
    {
        for (var i = 0; i < commands.Count; i++)
        {
            if (crashMask is { } mask && (mask >> i & 1) == 0)
            {
                _trace.Add($"  lost {commands[i]}");
                continue;
            }

            _inFlight.Add(commands[i] switch
            {
                SendPrepare c => new ToParticipant(ParticipantCommandKind.Prepare, c.Branch),
                RunSagaAction c => new ToParticipant(ParticipantCommandKind.SagaAction, c.Branch),
                SendCommit c => new ToParticipant(ParticipantCommandKind.Commit, c.Branch),
                SendRollback c => new ToParticipant(ParticipantCommandKind.Rollback, c.Branch),
                SchedulePhase2Retry r => new ToCoordinator(new Phase2RetryDue(r.Attempt)),
                ScheduleVoteDeadline => new ToCoordinator(new VoteDeadlinePassed()),
                ScheduleSagaPhaseLimit => new ToCoordinator(new SagaPhaseTimeLimitPassed()),
                var other => throw new InvalidOperationException($"unknown command {other}"),
            });
        }
    }

    /// <summary>One participant handling one command, as a resource manager built on <see cref="ParticipantProtocol"/> does.</summary>
    private CoordinatorEvent? RunParticipant(ToParticipant command)
    {
        var b = command.Branch;
        if (_sagas[b] is { } saga)
        {
            return RunSagaParticipant(b, saga, command.Kind);
        }

        var record = _records[b];
        switch (command.Kind)
        {
            case ParticipantCommandKind.Prepare:
                if (_scenario.Behaviours[b] == Behaviour.Never)
                {
                    _trace.Add($"  p{b} never prepares");
                    return null;
                }

                PrepareResult vote;
                if (ParticipantProtocol.OnPrepare(record) == BranchAction.Execute)
                {
                    vote = _scenario.Behaviours[b] switch
                    {
                        Behaviour.Yes => PrepareResult.Yes,
                        Behaviour.ReadOnly => new PrepareResult(Vote.ReadOnly),
                        _ => PrepareResult.No("insufficient funds"),
                    };
                    _records[b] = new BranchRecord(vote.Vote == Vote.No ? BranchPhase.Refused : BranchPhase.Prepared, vote.Vote, vote.Reason);
                }
                else
                {
                    vote = ParticipantProtocol.RepeatVote(record!);
                }

                if (_votesSent[b] is { } earlier && earlier != vote.Vote)
                {
                    Fail($"participant of branch {b} voted {vote.Vote} after voting {earlier}");
                }

                _votesSent[b] = vote.Vote;
                _trace.Add($"  p{b} votes {vote.Vote}");
                return new VoteCast(b, vote.Vote, vote.Reason);

            case ParticipantCommandKind.Commit:
                switch (ParticipantProtocol.OnCommit(record))
                {
                    case BranchAction.Execute:
                        _records[b] = record! with { Phase = BranchPhase.Committed };
                        break;
                    case BranchAction.Violation:
                        Fail($"I1: branch {b} was told to commit while its record is {record?.Phase.ToString() ?? "empty"}");
                        break;
                }

                CheckAtomicity();
                return new BranchAcknowledged(b, BranchOutcome.Committed);

            default:
                switch (ParticipantProtocol.OnRollback(record))
                {
                    case BranchAction.RecordOnly:
                        _records[b] = new BranchRecord(BranchPhase.RolledBack, null, ParticipantProtocol.RolledBackBeforePrepare);
                        break;
                    case BranchAction.Execute:
                        _records[b] = record! with { Phase = BranchPhase.RolledBack };
                        break;
                    case BranchAction.Violation:
                        Fail($"I1: branch {b} was told to roll back while its record is {record?.Phase.ToString() ?? "empty"}");
                        break;
                }

                CheckAtomicity();
                return new BranchAcknowledged(b, BranchOutcome.RolledBack);
        }
    }

    /// <summary>A saga branch's service handling its action or its compensation.</summary>
    private CoordinatorEvent? RunSagaParticipant(int b, SagaAccount saga, ParticipantCommandKind kind)
    {
        switch (kind)
        {
            case ParticipantCommandKind.SagaAction:
                if (_scenario.Behaviours[b] == Behaviour.Never)
                {
                    _trace.Add($"  p{b} never runs its action");
                    return null;
                }

                if (saga.State == SagaKeyState.Unknown)
                {
                    CheckSagaActionMayRun(b);
                    if (_scenario.Behaviours[b] == Behaviour.No)
                    {
                        saga.State = SagaKeyState.Declined;
                        saga.Answer = Vote.No;
                    }
                    else
                    {
                        saga.State = SagaKeyState.Applied;
                        saga.Applications++;
                        saga.Answer = Vote.Yes;
                    }
                }
                else if (saga.State == SagaKeyState.Voided)
                {
                    saga.Answer ??= Vote.No;
                }

                if (saga.Applications > 1)
                {
                    Fail($"saga branch {b}'s action was applied {saga.Applications} times");
                }

                var answer = saga.Answer!.Value;
                if (_votesSent[b] is { } earlier && earlier != answer)
                {
                    Fail($"saga participant of branch {b} answered {answer} after answering {earlier}");
                }

                CheckAtomicity();
                if (_scenario.Behaviours[b] == Behaviour.TimesOut && _votesSent[b] is null && !saga.ReportedUnknown)
                {
                    // The service applied the action, but the call timed out: the engine turns the failed activity into a No.
                    saga.ReportedUnknown = true;
                    _trace.Add($"  p{b} action: {saga}, its answer is lost; reported as not applied");
                    return new VoteCast(b, Vote.No, "its outcome is unknown (timed out)");
                }

                _votesSent[b] = answer;
                _trace.Add($"  p{b} action: {saga}, answers {answer}");
                return answer == Vote.Yes
                    ? new VoteCast(b, Vote.Yes)
                    : new VoteCast(b, Vote.No, saga.State == SagaKeyState.Voided ? "cancelled by its compensation" : "card declined");

            case ParticipantCommandKind.Rollback:
                if (saga.FailuresLeft > 0)
                {
                    saga.FailuresLeft--;
                    _trace.Add($"  p{b} compensation fails ({saga.FailuresLeft} more failures to come)");
                    return new CompensationFailed(b, "payments answered 503");
                }

                switch (saga.State)
                {
                    case SagaKeyState.Unknown:
                        saga.State = SagaKeyState.Voided;
                        break;
                    case SagaKeyState.Applied:
                        saga.State = SagaKeyState.Compensated;
                        saga.Compensations++;
                        break;
                }

                _trace.Add($"  p{b} compensated: {saga}");
                CheckAtomicity();
                return new BranchAcknowledged(b, BranchOutcome.RolledBack);

            default:
                Fail($"saga branch {b} was sent {kind}: a saga branch is never prepared nor committed");
                return null;
        }
    }

    /// <summary>
    /// A saga action runs only once every prepared branch voted Yes (or ReadOnly) at its participant, and only after every
    /// earlier saga action took effect: one at a time, in request order.
    /// </summary>
    private void CheckSagaActionMayRun(int b)
    {
        for (var i = 0; i < _records.Length; i++)
        {
            if (_sagas[i] is null && _records[i]?.Vote is not (Vote.Yes or Vote.ReadOnly))
            {
                Fail($"saga branch {b}'s action ran although prepared branch {i} has record {_records[i]?.ToString() ?? "none"}");
            }

            if (i < b && _sagas[i] is { Applications: 0 } earlier)
            {
                Fail($"saga branch {b}'s action ran before the action of saga branch {i} took effect ({earlier})");
            }
        }
    }

    private void CheckAtomicity()
    {
        var committed = Array.FindIndex(_records, r => r?.Phase == BranchPhase.Committed);
        var undone = Array.FindIndex(_records, r => r?.Phase is BranchPhase.RolledBack or BranchPhase.Refused);
        if (committed >= 0 && undone >= 0)
        {
            Fail($"I1: branch {committed} committed while branch {undone} is {_records[undone]!.Phase}");
        }

        // A saga action declined or undone means Abort; a prepared branch committed means Commit.
        var unsaga = Array.FindIndex(_sagas, s => s?.State is SagaKeyState.Declined or SagaKeyState.Compensated or SagaKeyState.Voided);
        if (committed >= 0 && unsaga >= 0)
        {
            Fail($"I1: branch {committed} committed while saga branch {unsaga} is {_sagas[unsaga]}");
        }
    }

    private void Fail(string message)
    {
        var story = _trace.Count <= 80 ? _trace : _trace[^80..];
        throw new InvariantViolationException(
            $"{message}{Environment.NewLine}scenario: {_scenario}{Environment.NewLine}last persisted state: {Describe(State)}{Environment.NewLine}" +
            string.Join(Environment.NewLine, story));
    }

    private string Describe(TransactionState state) =>
        $"{state.Status} decision={state.Decision?.ToString() ?? "none"} reason={state.Reason} branches=[" +
        string.Join(", ", state.Branches.Select(b => $"{b.Index}:{(b.IsSaga ? "saga " : b.Kind == BranchKind.Tcc ? "tcc " : "")}" +
            $"{b.Vote?.ToString() ?? "-"}/{b.Outcome?.ToString() ?? "-"}{(b.IsSaga ? $" ({_sagas[b.Index]}, {b.CompensationFailures} failures)" : "")}")) + "]";
}

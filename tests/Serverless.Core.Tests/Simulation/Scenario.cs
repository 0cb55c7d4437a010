using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;
using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Simulation;

/// <summary>
/// How a simulated participant answers a prepare (2PC, TCC's Try), or, for a saga branch, its action: Yes applies it, No
/// declines it (a definite refusal, nothing taken); a saga branch is never ReadOnly (treated as Yes if one is built by hand).
/// </summary>
public enum Behaviour
{
    Yes,
    No,
    ReadOnly,

    /// <summary>
    /// Never executes a prepare or a saga action (it keeps failing and goes to the poison queue), but does run commits,
    /// rollbacks and compensations.
    /// </summary>
    Never,

    /// <summary>
    /// Saga only: the action takes effect, but its first answer is lost to a timeout, and the engine reports the action as
    /// not applied ("its outcome is unknown", a No); a repeated action is answered Applied. For a prepared branch, a No.
    /// </summary>
    TimesOut,
}

/// <summary>One move of the adversarial network.</summary>
public enum NetworkAction
{
    /// <summary>Deliver an in-flight message picked at random: reordering and delay are the picks not made.</summary>
    Deliver,

    /// <summary>Put a second copy of an in-flight message on the wire (at-least-once delivery).</summary>
    Duplicate,

    /// <summary>Deliver a message, persist its effects, send only some of the outgoing messages, then crash before deleting it.</summary>
    CrashAfterPersist,

    /// <summary>
    /// The vote-deadline timer fires (again, if it already did); it may crash after persisting. Being a delayed message,
    /// the deadline is delivered only by this action or by fair delivery once nothing else is in flight.
    /// </summary>
    FireDeadline,

    /// <summary>
    /// The saga phase's time-limit timer fires, once a saga action set it (again, if it already did); it may crash after
    /// persisting. Like the deadline it is delivered only by this action, or by fair delivery once nothing else is in flight.
    /// </summary>
    FireSagaLimit,

    /// <summary>A client asks to abort; the request may crash after the state write.</summary>
    RequestAbort,

    /// <summary>The client repeats its start request.</summary>
    RepeatStart,

    /// <summary>
    /// A command to a participant, or a participant's reply, fails until it lands in the poison queue and is never
    /// delivered: only the durable timers (deadline, phase-2 retry) can make up for it. Timers themselves are never lost.
    /// </summary>
    Poison,
}

/// <param name="Action">What the network does.</param>
/// <param name="Pick">Chooses the message the action applies to (modulo what exists).</param>
/// <param name="Mask">For crashes, bit i says whether outgoing message i was sent before the crash.</param>
public sealed record NetworkStep(NetworkAction Action, int Pick, int Mask)
{
    public override string ToString() => Action switch
    {
        NetworkAction.CrashAfterPersist or NetworkAction.RequestAbort => $"{Action}#{Pick}/{Mask:x}",
        NetworkAction.FireDeadline or NetworkAction.FireSagaLimit or NetworkAction.RepeatStart => Action.ToString(),
        _ => $"{Action}#{Pick}",
    };
}

/// <param name="Behaviours">One participant behaviour per branch.</param>
/// <param name="InitialPrepareMask">Bit i says whether start command i (the prepares, or the first saga action) went out before a crash at start.</param>
/// <param name="Script">The adversarial phase; fair delivery follows it.</param>
/// <param name="Outage">
/// How many commit and rollback commands the participants lose during fair delivery (they are down and the messages
/// go to the poison queue), so that only a phase-2 retry chain that keeps going can finish the transaction.
/// </param>
/// <param name="Kinds">One branch kind per branch; default (empty) means every branch is two-phase.</param>
/// <param name="CompensationFailures">
/// Per branch, how many times a saga branch's compensation fails (the service answers 5xx) before it succeeds; default
/// (empty) means never. Ignored for prepared branches.
/// </param>
public sealed record Scenario(
    ImmutableArray<Behaviour> Behaviours,
    int InitialPrepareMask,
    ImmutableArray<NetworkStep> Script,
    int Outage = 0,
    ImmutableArray<BranchKind> Kinds = default,
    ImmutableArray<int> CompensationFailures = default)
{
    public const int MaxBranches = 6;

    public const int AllPrepares = (1 << MaxBranches) - 1;

    public BranchKind KindOf(int branch) => Kinds.IsDefaultOrEmpty ? BranchKind.TwoPhase : Kinds[branch];

    public int CompensationFailuresOf(int branch) =>
        CompensationFailures.IsDefaultOrEmpty || KindOf(branch) != BranchKind.Saga ? 0 : CompensationFailures[branch];

    /// <summary>The same scenario without branch <paramref name="branch"/>.</summary>
    public Scenario WithoutBranch(int branch) => this with
    {
        Behaviours = Behaviours.RemoveAt(branch),
        Kinds = Kinds.IsDefaultOrEmpty ? Kinds : Kinds.RemoveAt(branch),
        CompensationFailures = CompensationFailures.IsDefaultOrEmpty ? CompensationFailures : CompensationFailures.RemoveAt(branch),
    };

    public override string ToString() =>
        $"Behaviours=[{string.Join(", ", Behaviours.Select((b, i) => Describe(i, b)))}] " +
        $"InitialPrepares={Convert.ToString(InitialPrepareMask & AllPrepares, 2)} Outage={Outage} Script=[{string.Join(", ", Script)}]";

    private string Describe(int branch, Behaviour behaviour) => KindOf(branch) switch
    {
        BranchKind.Saga => $"saga:{behaviour}{(CompensationFailuresOf(branch) > 0 ? $"/fails{CompensationFailuresOf(branch)}" : "")}",
        BranchKind.Tcc => $"tcc:{behaviour}",
        _ => behaviour.ToString(),
    };
}

/// <summary>FsCheck generators and shrinkers of <see cref="Scenario"/>.</summary>
public static class Scenarios
{
    private static readonly Gen<Behaviour> AnyBehaviour = Gen.Frequency(
        (5, Gen.Constant(Behaviour.Yes)),
        (1, Gen.Constant(Behaviour.No)),
        (2, Gen.Constant(Behaviour.ReadOnly)),
        (1, Gen.Constant(Behaviour.Never)));

    private static readonly Gen<Behaviour> WillingBehaviour = Gen.Frequency(
        (3, Gen.Constant(Behaviour.Yes)),
        (1, Gen.Constant(Behaviour.ReadOnly)));

    /// <summary>A saga action: applied, declined, applied with its answer lost, or never executed (its service is unreachable until the deadline).</summary>
    private static readonly Gen<Behaviour> AnySagaBehaviour = Gen.Frequency(
        (6, Gen.Constant(Behaviour.Yes)),
        (2, Gen.Constant(Behaviour.No)),
        (1, Gen.Constant(Behaviour.TimesOut)),
        (1, Gen.Constant(Behaviour.Never)));

    private static readonly Gen<Behaviour> WillingSagaBehaviour = Gen.Constant(Behaviour.Yes);

    /// <summary>Mostly two-phase, some TCC, some saga.</summary>
    private static readonly Gen<BranchKind> MixedKind = Gen.Frequency(
        (5, Gen.Constant(BranchKind.TwoPhase)),
        (2, Gen.Constant(BranchKind.Tcc)),
        (3, Gen.Constant(BranchKind.Saga)));

    /// <summary>Mostly a compensation that works the first time; sometimes one that fails past the heuristic threshold.</summary>
    private static readonly Gen<int> AnyCompensationFailures = Gen.Frequency(
        (4, Gen.Constant(0)),
        (1, Gen.Choose(1, 2)),
        (1, Gen.Choose(3, 5)));

    /// <summary>Every participant behaviour, every network move; a third of the transactions all two-phase, the rest mixed.</summary>
    public static Arbitrary<Scenario> Adversarial { get; } =
        Arb.From(Build(AnyBehaviour, AnySagaBehaviour, Gen.Frequency((1, Gen.Constant(false)), (2, Gen.Constant(true))), withAbortSources: true), Shrink);

    /// <summary>As <see cref="Adversarial"/>, but every transaction has at least one saga branch.</summary>
    public static Arbitrary<Scenario> AdversarialWithSagas { get; } =
        Arb.From(Build(AnyBehaviour, AnySagaBehaviour, Gen.Constant(true), withAbortSources: true, withSaga: true), Shrink);

    /// <summary>
    /// Participants that all vote Yes or ReadOnly and saga actions that all apply, an uninterrupted start, and no deadline
    /// or abort request before fair delivery: every such transaction must commit.
    /// </summary>
    public static Arbitrary<Scenario> Willing { get; } =
        Arb.From(Build(WillingBehaviour, WillingSagaBehaviour, Gen.Frequency((1, Gen.Constant(false)), (2, Gen.Constant(true))), withAbortSources: false), Shrink);

    /// <summary>As <see cref="Willing"/>, but every transaction has at least one saga branch.</summary>
    public static Arbitrary<Scenario> WillingWithSagas { get; } =
        Arb.From(Build(WillingBehaviour, WillingSagaBehaviour, Gen.Constant(true), withAbortSources: false, withSaga: true), Shrink);

    private static Gen<Scenario> Build(Gen<Behaviour> behaviour, Gen<Behaviour> sagaBehaviour, Gen<bool> mixed, bool withAbortSources, bool withSaga = false)
    {
        var actions = new List<(int, Gen<NetworkAction>)>
        {
            (12, Gen.Constant(NetworkAction.Deliver)),
            (3, Gen.Constant(NetworkAction.Duplicate)),
            (3, Gen.Constant(NetworkAction.CrashAfterPersist)),
            (1, Gen.Constant(NetworkAction.RepeatStart)),
        };
        if (withAbortSources)
        {
            actions.Add((1, Gen.Constant(NetworkAction.FireDeadline)));
            actions.Add((1, Gen.Constant(NetworkAction.FireSagaLimit)));
            actions.Add((1, Gen.Constant(NetworkAction.RequestAbort)));

            // A lost prepare or vote ends in an abort by the deadline, so only the adversarial scenarios lose messages.
            actions.Add((1, Gen.Constant(NetworkAction.Poison)));
        }

        var step =
            from action in Gen.Frequency(actions)
            from pick in Gen.Choose(0, 1 << 20)
            from mask in Gen.Choose(0, int.MaxValue)
            select new NetworkStep(action, pick, mask);
        var script = Gen.Sized(size => Gen.Choose(0, 2 * size + 10).SelectMany(length => step.ArrayOf(length)));

        Gen<(BranchKind Kind, Behaviour Behaviour, int Failures)> Branch(Gen<BranchKind> kinds) =>
            from kind in kinds
            from b in kind == BranchKind.Saga ? sagaBehaviour : behaviour
            from failures in kind == BranchKind.Saga ? AnyCompensationFailures : Gen.Constant(0)
            select (kind, b, failures);
        var twoPhase = behaviour.Select(b => (Kind: BranchKind.TwoPhase, Behaviour: b, Failures: 0));

        return
            from count in Gen.Choose(1, Scenario.MaxBranches)
            from isMixed in mixed
            from generated in (isMixed ? Branch(MixedKind) : twoPhase).ArrayOf(count)
            from sagaAt in Gen.Choose(0, count - 1)
            from saga in Branch(Gen.Constant(BranchKind.Saga))
            let branches = withSaga ? generated.Select((b, i) => i == sagaAt ? saga : b).ToArray() : generated
            from crashAtStart in withAbortSources ? Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true))) : Gen.Constant(false)
            from prepareMask in Gen.Choose(0, Scenario.AllPrepares)
            from steps in script
            from outage in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(1, 8)))
            select new Scenario(
                [.. branches.Select(b => b.Behaviour)],
                crashAtStart ? prepareMask : Scenario.AllPrepares,
                [.. steps],
                outage,
                isMixed ? [.. branches.Select(b => b.Kind)] : default,
                isMixed ? [.. branches.Select(b => b.Failures)] : default);
    }

    /// <summary>Smaller scripts first, then fewer branches, then plainer behaviours and kinds, and an uninterrupted start.</summary>
    private static IEnumerable<Scenario> Shrink(Scenario scenario)
    {
        var script = scenario.Script;
        for (var chunk = script.Length / 2; chunk > 0; chunk /= 2)
        {
            for (var start = 0; start + chunk <= script.Length; start += chunk)
            {
                yield return scenario with { Script = script.RemoveRange(start, chunk) };
            }
        }

        if (scenario.Behaviours.Length > 1)
        {
            for (var i = scenario.Behaviours.Length - 1; i >= 0; i--)
            {
                yield return scenario.WithoutBranch(i);
            }
        }

        for (var i = 0; i < scenario.Behaviours.Length; i++)
        {
            if (scenario.Behaviours[i] != Behaviour.Yes)
            {
                yield return scenario with { Behaviours = scenario.Behaviours.SetItem(i, Behaviour.Yes) };
            }
        }

        if (!scenario.CompensationFailures.IsDefaultOrEmpty)
        {
            for (var i = 0; i < scenario.CompensationFailures.Length; i++)
            {
                if (scenario.CompensationFailures[i] > 0)
                {
                    yield return scenario with { CompensationFailures = scenario.CompensationFailures.SetItem(i, 0) };
                }
            }
        }

        if (!scenario.Kinds.IsDefaultOrEmpty)
        {
            for (var i = 0; i < scenario.Kinds.Length; i++)
            {
                if (scenario.Kinds[i] != BranchKind.TwoPhase)
                {
                    yield return scenario with { Kinds = scenario.Kinds.SetItem(i, BranchKind.TwoPhase) };
                }
            }
        }

        if (scenario.Outage > 0)
        {
            yield return scenario with { Outage = 0 };
            yield return scenario with { Outage = scenario.Outage - 1 };
        }

        if ((scenario.InitialPrepareMask & Scenario.AllPrepares) != Scenario.AllPrepares)
        {
            yield return scenario with { InitialPrepareMask = Scenario.AllPrepares };
        }

        for (var i = 0; i < script.Length; i++)
        {
            if (script[i].Pick != 0)
            {
                yield return scenario with { Script = script.SetItem(i, script[i] with { Pick = 0 }) };
            }
        }
    }
}

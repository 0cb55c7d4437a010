using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;

namespace Serverless.Core.Tests.Simulation;

/// <summary>How a simulated participant answers a prepare.</summary>
public enum Behaviour
{
    Yes,
    No,
    ReadOnly,

    /// <summary>Never executes a prepare (it keeps failing and goes to the poison queue), but does run commits and rollbacks.</summary>
    Never,
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

    /// <summary>A client asks to abort; the request may crash after the state write.</summary>
    RequestAbort,

    /// <summary>An in-doubt participant asks the coordinator for the decision.</summary>
    Inquire,

    /// <summary>The client repeats its start request.</summary>
    RepeatStart,

    /// <summary>
    /// A command to a participant, or a participant's reply, fails until it lands in the poison queue and is never
    /// delivered: only the durable timers (deadline, phase-2 retry) can make up for it. Timers themselves are never lost.
    /// </summary>
    Poison,
}

/// <param name="Action">What the network does.</param>
/// <param name="Pick">Chooses the message or branch the action applies to (modulo what exists).</param>
/// <param name="Mask">For crashes, bit i says whether outgoing message i was sent before the crash.</param>
public sealed record NetworkStep(NetworkAction Action, int Pick, int Mask)
{
    public override string ToString() => Action switch
    {
        NetworkAction.CrashAfterPersist or NetworkAction.RequestAbort => $"{Action}#{Pick}/{Mask:x}",
        NetworkAction.FireDeadline or NetworkAction.RepeatStart => Action.ToString(),
        _ => $"{Action}#{Pick}",
    };
}

/// <param name="Behaviours">One participant behaviour per branch.</param>
/// <param name="InitialPrepareMask">Bit i says whether the prepare of branch i went out before a crash at start.</param>
/// <param name="Script">The adversarial phase; fair delivery follows it.</param>
/// <param name="Outage">
/// How many commit and rollback commands the participants lose during fair delivery (they are down and the messages
/// go to the poison queue), so that only a phase-2 retry chain that keeps going can finish the transaction.
/// </param>
public sealed record Scenario(ImmutableArray<Behaviour> Behaviours, int InitialPrepareMask, ImmutableArray<NetworkStep> Script, int Outage = 0)
{
    public const int MaxBranches = 6;

    public const int AllPrepares = (1 << MaxBranches) - 1;

    public override string ToString() =>
        $"Behaviours=[{string.Join(", ", Behaviours)}] InitialPrepares={Convert.ToString(InitialPrepareMask & AllPrepares, 2)} " +
        $"Outage={Outage} Script=[{string.Join(", ", Script)}]";
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

    /// <summary>Every participant behaviour, every network move.</summary>
    public static Arbitrary<Scenario> Adversarial { get; } = Arb.From(Build(AnyBehaviour, withAbortSources: true), Shrink);

    /// <summary>
    /// Participants that all vote Yes or ReadOnly, an uninterrupted start, and no deadline or abort request before fair
    /// delivery: every such transaction must commit.
    /// </summary>
    public static Arbitrary<Scenario> Willing { get; } = Arb.From(Build(WillingBehaviour, withAbortSources: false), Shrink);

    private static Gen<Scenario> Build(Gen<Behaviour> behaviour, bool withAbortSources)
    {
        var actions = new List<(int, Gen<NetworkAction>)>
        {
            (12, Gen.Constant(NetworkAction.Deliver)),
            (3, Gen.Constant(NetworkAction.Duplicate)),
            (3, Gen.Constant(NetworkAction.CrashAfterPersist)),
            (1, Gen.Constant(NetworkAction.Inquire)),
            (1, Gen.Constant(NetworkAction.RepeatStart)),
        };
        if (withAbortSources)
        {
            actions.Add((1, Gen.Constant(NetworkAction.FireDeadline)));
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

        return
            from count in Gen.Choose(1, Scenario.MaxBranches)
            from behaviours in behaviour.ArrayOf(count)
            from crashAtStart in withAbortSources ? Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true))) : Gen.Constant(false)
            from prepareMask in Gen.Choose(0, Scenario.AllPrepares)
            from steps in script
            from outage in Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Choose(1, 8)))
            select new Scenario([.. behaviours], crashAtStart ? prepareMask : Scenario.AllPrepares, [.. steps], outage);
    }

    /// <summary>Smaller scripts first, then fewer branches, then plainer behaviours and an uninterrupted start.</summary>
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
            yield return scenario with { Behaviours = scenario.Behaviours.RemoveAt(scenario.Behaviours.Length - 1) };
            yield return scenario with { Behaviours = scenario.Behaviours.RemoveAt(0) };
        }

        for (var i = 0; i < scenario.Behaviours.Length; i++)
        {
            if (scenario.Behaviours[i] != Behaviour.Yes)
            {
                yield return scenario with { Behaviours = scenario.Behaviours.SetItem(i, Behaviour.Yes) };
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

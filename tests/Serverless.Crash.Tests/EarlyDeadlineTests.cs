namespace Serverless.Crash.Tests;

/// <summary>
/// A durable timer must not be lost: a vote-deadline message delivered before the deadline by this instance's clock
/// (clock skew between instances) is scheduled again for the time that remains, not failed until it is poisoned.
/// </summary>
/// <remarks>
/// Switched off (see <see cref="Reason"/>). The test drove the old engine's <c>TransactionCoordinator</c> in this process with
/// a clock it moved, against a real Azurite; its body is in the history:
/// <c>git show b132ae5~2:tests/Serverless.Crash.Tests/EarlyDeadlineTests.cs</c>. That a deadline survives a killed host is
/// now <see cref="DeadlineTimerTests"/>.
/// </remarks>
public sealed class EarlyDeadlineTests
{
    private const string Reason =
        "Vote deadlines were Deadline messages on the coordinator's own queue in the home-made engine, and this test checked that " +
        "one delivered early (clock skew) was sent again for the time that remained. They are Durable timers now " +
        "(TwoPhaseCommitOrchestration's CreateTimer), fired by Durable Task's engine; the coordinator class, the message kind and " +
        "the re-scheduling code it drove are gone, so there is nothing of ours left for it to test.";

    [Fact(Skip = Reason)]
    public void ADeadlineDeliveredEarly_IsSentAgainForTheTimeThatRemains()
    {
        // The body drove Serverless.Runtime.Coordination.TransactionCoordinator, which no longer exists: see the remarks.
    }
}

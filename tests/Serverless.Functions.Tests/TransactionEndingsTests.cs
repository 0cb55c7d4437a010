using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;

namespace Serverless.Functions.Tests;

/// <summary>The early answer's signal and its backpressure: while the engine lags more than <see cref="TransactionEndings.MaxLag"/> behind the voters, starts wait for the orchestration.</summary>
public sealed class TransactionEndingsTests
{
    private static readonly VoteEvent Report = new(0, Vote.Yes) { Ended = new TransactionEnd(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch) };

    [Fact]
    public async Task AListeningStart_IsToldOfItsTransactionsEnd_AndOnlyOfItsOwn()
    {
        var endings = new TransactionEndings();
        using var mine = endings.Listen("tx-1");
        using var other = endings.Listen("tx-2");

        endings.Ended("tx-1", Report);

        Assert.True(mine.Ended.IsCompletedSuccessfully);
        Assert.Same(Report, await mine.Ended);
        Assert.False(other.Ended.IsCompleted);
    }

    [Fact]
    public async Task WhileTheEngineLagsBehindTheVoters_StartsWaitForTheOrchestration_AndAreAnsweredEarlyAgainOnceItCatchesUp()
    {
        var endings = new TransactionEndings();

        // Orchestrations completing 1.5 s after their voters ended them: the measured lag passes the bound.
        for (var i = 0; i < 8; i++)
        {
            endings.Ended($"slow-{i}", Report);
        }

        await Task.Delay(TransactionEndings.MaxLag * 1.5);
        for (var i = 0; i < 8; i++)
        {
            endings.Finished($"slow-{i}");
        }

        Assert.True(endings.Lag > TransactionEndings.MaxLag, $"lag {endings.Lag}");
        using var late = endings.Listen("late");
        endings.Ended("late", Report);
        Assert.False(late.Ended.IsCompleted);

        // The backlog drains: orchestrations complete as soon as their voters end them, and the lag falls below the bound.
        for (var i = 0; i < 40 && endings.Lag > TransactionEndings.MaxLag; i++)
        {
            endings.Ended($"fast-{i}", Report);
            endings.Finished($"fast-{i}");
        }

        using var next = endings.Listen("next");
        endings.Ended("next", Report);
        Assert.True(next.Ended.IsCompletedSuccessfully);
    }
}

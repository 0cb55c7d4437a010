using Serverless.Core.Protocol;

namespace Serverless.Core.Tests.Protocol;

/// <summary>The presumed-abort rule of in-doubt resolution: abort what can no longer decide, wait for what still may (I3, I4).</summary>
public sealed class PresumedAbortTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(UndecidedTransaction.NeverStarted, "presumed abort: the coordinator has no record of the transaction")]
    [InlineData(UndecidedTransaction.TakenByPresumedAbort, "presumed abort: the coordinator has no record of the transaction")]
    [InlineData(UndecidedTransaction.Ended, "presumed abort: the orchestration ended Terminated without a decision")]
    [InlineData(UndecidedTransaction.Purged, "presumed abort: the transaction ended and was purged at 2026-12-07T11:00:00.0000000+00:00")]
    public void WhatCanNoLongerDecide_IsAborted_WhateverItsDeadline(UndecidedTransaction known, string reason)
    {
        Assert.Equal(reason, PresumedAbort.Reason(known, Now, Now.AddHours(1), "Terminated", Now.AddHours(-1)));
        Assert.Equal(known != UndecidedTransaction.Purged, PresumedAbort.IsRecorded(known));
    }

    [Theory]
    [InlineData(UndecidedTransaction.Running, "presumed abort: the vote deadline passed at 2026-12-07T11:59:59.0000000+00:00 and no decision followed")]
    [InlineData(UndecidedTransaction.ClaimedByAStart, "presumed abort: its start claimed it, but no orchestration runs it, and its vote deadline passed at 2026-12-07T11:59:59.0000000+00:00")]
    public void WhatMayStillDecide_IsWaitedFor_UntilItsVoteDeadlinePassed(UndecidedTransaction known, string reason)
    {
        Assert.Null(PresumedAbort.Reason(known, Now, Now.AddSeconds(1)));
        Assert.Null(PresumedAbort.Reason(known, Now, Now));
        Assert.Null(PresumedAbort.Reason(known, Now, deadline: null));
        Assert.Equal(reason, PresumedAbort.Reason(known, Now, Now.AddSeconds(-1)));
        Assert.True(PresumedAbort.IsRecorded(known));
    }
}

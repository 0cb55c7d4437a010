using MySqlConnector;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.MySql.Tests;

/// <summary>
/// Prepared XA branches outlive their connections, are listed from XA RECOVER, and are finished by the one in-doubt loop
/// (<see cref="InDoubtRecovery"/>) from the coordinator's answer.
/// </summary>
public sealed class RecoveryTests(MariaDbServer server) : LedgerTest(server)
{
    [Fact]
    public async Task APreparedBranch_SurvivesTheLossOfEveryConnection_AndRecoveryFinishesItByTheDecision()
    {
        var account = await AccountAsync(100);
        var (commit, abort, open) = (NewBranch(), NewBranch(), NewBranch());
        foreach (var branch in new[] { commit, abort, open })
        {
            Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Credit(await AccountAsync(0), 5))).Vote);
        }

        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(NewBranchOf(commit, 1), Debit(account, 40))).Vote);
        await MySqlConnection.ClearAllPoolsAsync();

        // A new process: a manager of its own, nothing in memory.
        var restarted = new LedgerParticipant(ConnectionString, Participant, Options).ResourceManager;
        var asked = new List<BranchKey>();
        var result = await RecoverAsync(restarted, b =>
        {
            asked.Add(b);
            return b.TransactionId == commit.TransactionId ? Decision.Commit : b == abort ? Decision.Abort : null;
        });

        Assert.Equal(new RecoveryResult(Committed: 2, RolledBack: 1, Undecided: 1, Failed: 0), result);
        Assert.Equal(4, asked.Count);
        Assert.Equal(60, await Ledger.GetBalanceAsync(account));
        Assert.Equal([open], (await restarted.ListPreparedAsync(DateTimeOffset.MaxValue, 10)).Select(b => b.Branch));
        await restarted.RollbackAsync(open, "{}");
    }

    [Fact]
    public async Task Recovery_CountsAFailedInquiry_AndLeavesTheBranchForTheNextPass()
    {
        var account = await AccountAsync(100);
        var branch = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Debit(account, 40))).Vote);

        var failed = await RecoverAsync(Manager, _ => throw new HttpRequestException("coordinator unreachable"));
        Assert.Equal(new RecoveryResult(0, 0, 0, 1), failed);
        Assert.Single(await PreparedAsync());

        var next = await RecoverAsync(Manager, _ => Decision.Abort);
        Assert.Equal(new RecoveryResult(0, 1, 0, 0), next);
        Assert.Equal(100, await Ledger.GetBalanceAsync(account));
        Assert.Equal(BranchPhase.RolledBack, (await Manager.GetBranchAsync(branch))!.Phase);
    }

    [Fact]
    public async Task ListPrepared_LeavesYoungBranchesAlone()
    {
        var branch = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Credit(await AccountAsync(0), 5))).Vote);

        var fiveMinutesAgo = DateTimeOffset.UtcNow.AddMinutes(-5);
        Assert.Empty(await Manager.ListPreparedAsync(fiveMinutesAgo, 10));
        Assert.Equal(new RecoveryResult(0, 0, 0, 0), await RecoverAsync(Manager, _ => Decision.Commit, fiveMinutesAgo));
        var listed = Assert.Single(await Manager.ListPreparedAsync(DateTimeOffset.UtcNow.AddMinutes(1), 10));
        Assert.Equal((branch, "{}"), (listed.Branch, listed.Operation));
        Assert.InRange(listed.PreparedAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));

        await Manager.RollbackAsync(branch, "{}");
    }

    [Fact]
    public async Task Recovery_NeverTouchesAnotherXaUsersPreparedBranch()
    {
        var foreign = $"foreign-{Guid.NewGuid():N}"[..30];
        await using (var connection = new MySqlConnection(ConnectionString))
        {
            await connection.OpenAsync();
            foreach (var sql in new[] { $"XA START '{foreign}','{Participant}:0',1",
                "INSERT INTO ledger_entries (participant, transaction_id, branch, account, amount, created_at) VALUES ('x', 'x', 0, 'x', 1, NOW())", $"XA END '{foreign}','{Participant}:0',1", $"XA PREPARE '{foreign}','{Participant}:0',1" })
            {
                await using var command = new MySqlCommand(sql, connection);
                await command.ExecuteNonQueryAsync();
            }
        }

        await MySqlConnection.ClearAllPoolsAsync();
        try
        {
            Assert.Empty(await Manager.ListPreparedAsync(DateTimeOffset.MaxValue, 10));
            Assert.Equal(new RecoveryResult(0, 0, 0, 0), await RecoverAsync(Manager, _ => Decision.Abort));
            Assert.Contains($"1:{foreign}:{Participant}:0", await MariaDbServer.PreparedXidsAsync(ConnectionString));
        }
        finally
        {
            await ExecuteAsync($"XA ROLLBACK '{foreign}','{Participant}:0',1");
        }
    }

    [Fact]
    public async Task ACommitArrivingWhileThePreparingConnectionIsStillOpen_IsRetriedUntilItCommits()
    {
        // Commit right after prepare, many times: the prepare's own connection may still be closing when the commit runs.
        var account = await AccountAsync(1000);
        for (var i = 0; i < 20; i++)
        {
            var branch = NewBranch();
            Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Debit(account, 1))).Vote);
            await Manager.CommitAsync(branch, "{}");
        }

        Assert.Equal(980, await Ledger.GetBalanceAsync(account));
    }

    private static BranchKey NewBranchOf(BranchKey branch, int index) => branch with { Branch = index };

    /// <summary>One pass of the in-doubt loop over <paramref name="manager"/>'s branches prepared before <paramref name="preparedBefore"/> (any, by default).</summary>
    private static Task<RecoveryResult> RecoverAsync(MySqlResourceManager manager, Func<BranchKey, Decision?> decide, DateTimeOffset? preparedBefore = null) =>
        InDoubtRecovery.RecoverAsync(manager, manager, preparedBefore ?? DateTimeOffset.MaxValue, 100, (b, _) => Task.FromResult(decide(b.Branch)));
}

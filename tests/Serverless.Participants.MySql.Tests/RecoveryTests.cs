using MySqlConnector;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.MySql.Tests;

/// <summary>Prepared XA branches outlive their connections and are finished by recovery (XA RECOVER) from the coordinator's answer.</summary>
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
        var result = await restarted.RecoverAsync((b, _) =>
        {
            asked.Add(b);
            return Task.FromResult<Decision?>(b.TransactionId == commit.TransactionId ? Decision.Commit : b == abort ? Decision.Abort : null);
        }, TimeSpan.Zero);

        Assert.Equal(new RecoveryResult(Committed: 2, RolledBack: 1, Undecided: 1, Failed: 0), result);
        Assert.Equal(4, asked.Count);
        Assert.Equal(60, await Ledger.GetBalanceAsync(account));
        Assert.Equal([open], (await restarted.ListInDoubtAsync(TimeSpan.Zero)).Select(b => b.Branch));
        await restarted.RollbackAsync(open, "{}");
    }

    [Fact]
    public async Task ListInDoubt_LeavesYoungBranchesAlone()
    {
        var branch = NewBranch();
        Assert.Equal(Vote.Yes, (await Manager.PrepareAsync(branch, Credit(await AccountAsync(0), 5))).Vote);

        Assert.Empty(await Manager.ListInDoubtAsync(TimeSpan.FromMinutes(5)));
        var listed = Assert.Single(await Manager.ListInDoubtAsync(TimeSpan.Zero));
        Assert.Equal(branch, listed.Branch);
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
            Assert.Empty(await Manager.ListInDoubtAsync(TimeSpan.Zero));
            var result = await Manager.RecoverAsync((_, _) => Task.FromResult<Decision?>(Decision.Abort), TimeSpan.Zero);
            Assert.Equal(new RecoveryResult(0, 0, 0, 0), result);
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
}

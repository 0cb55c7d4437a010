using Npgsql;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>The resource manager with handlers of its users' own: votes, refusals and failures.</summary>
public sealed class ResourceManagerTests(PostgresServer server) : ParticipantTest(server)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await ExecuteAsync("CREATE TABLE IF NOT EXISTS notes (id text PRIMARY KEY, body text NOT NULL CHECK (body <> ''))");
    }

    /// <summary>A participant of its own: each prepare inserts a note, then the handler decides the vote.</summary>
    private PostgresResourceManager NotesManager(Func<PostgresBranchContext, CancellationToken, Task<PrepareResult>> decide, NpgsqlDataSource? dataSource = null) =>
        new(dataSource ?? DataSource, Participant, async (context, cancellationToken) =>
        {
            await using var insert = context.CreateCommand("INSERT INTO notes (id, body) VALUES ($1, $2)");
            insert.Parameters.Add(new() { Value = context.Operation.GetProperty("id").GetString()! });
            insert.Parameters.Add(new() { Value = context.Operation.GetProperty("body").GetString()! });
            await insert.ExecuteNonQueryAsync(cancellationToken);
            return await decide(context, cancellationToken);
        }, Options);

    private static string Note(string id, string body = "hello") => $$"""{"id":"{{id}}","body":"{{body}}"}""";

    private async Task<long> CountNotesAsync(string id)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM notes WHERE id = $1", connection) { Parameters = { new() { Value = id } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task HandlerVotingNo_RollsItsWorkBack_AndTheNoIsDurable()
    {
        var branch = NewBranch();
        var id = NewOrderId();
        var refusing = NotesManager((_, _) => Task.FromResult(PrepareResult.No("not today")));

        var vote = await refusing.PrepareAsync(branch, Note(id));

        Assert.Equal(PrepareResult.No("not today"), vote);
        Assert.Equal(0, await CountNotesAsync(id));
        Assert.Empty(await PreparedGidsAsync());

        // A new instance whose handler would now say Yes still repeats the recorded No.
        var willing = NotesManager((_, _) => Task.FromResult(PrepareResult.Yes), NewDataSource());
        Assert.Equal(vote, await willing.PrepareAsync(branch, Note(id)));
        Assert.Equal(0, await CountNotesAsync(id));
        Assert.Equal(new BranchRecord(BranchPhase.Refused, Vote.No, "not today"), await willing.GetBranchAsync(branch));
    }

    [Fact]
    public async Task HandlerThrowingPrepareRefused_VotesNo()
    {
        var branch = NewBranch();
        var manager = NotesManager((_, _) => throw new PrepareRefusedException("out of stock"));

        Assert.Equal(PrepareResult.No("out of stock"), await manager.PrepareAsync(branch, Note(NewOrderId())));
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task HandlerBreakingAConstraint_VotesNo()
    {
        var branch = NewBranch();
        var manager = NotesManager((_, _) => Task.FromResult(PrepareResult.Yes));

        var vote = await manager.PrepareAsync(branch, Note(NewOrderId(), body: ""));

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Contains("violates a constraint", vote.Reason, StringComparison.Ordinal);
        Assert.Empty(await PreparedGidsAsync());
    }

    [Fact]
    public async Task HandlerWaitingForARowHeldByAPreparedBranch_VotesNo_AfterTheLockTimeout()
    {
        var id = NewOrderId();
        var manager = NotesManager((_, _) => Task.FromResult(PrepareResult.Yes));
        var holder = NewBranch();
        Assert.Equal(Vote.Yes, (await manager.PrepareAsync(holder, Note(id))).Vote);

        var vote = await manager.PrepareAsync(NewBranch(), Note(id)).WaitAsync(Timeout);

        Assert.Equal(Vote.No, vote.Vote);
        Assert.Contains("held by another transaction", vote.Reason, StringComparison.Ordinal);
        await manager.RollbackAsync(holder, Note(id));
        Assert.Equal(0, await CountNotesAsync(id));
    }

    [Fact]
    public async Task HandlerFailing_Propagates_LeavesTheBranchUnknown_AndARetryCanSucceed()
    {
        var branch = NewBranch();
        var id = NewOrderId();
        var failing = NotesManager((_, _) => throw new TimeoutException("the disk is slow"));

        await Assert.ThrowsAsync<TimeoutException>(() => failing.PrepareAsync(branch, Note(id)));

        Assert.Null(await failing.GetBranchAsync(branch));
        Assert.Equal(0, await CountNotesAsync(id));
        Assert.Empty(await PreparedGidsAsync());
        var working = NotesManager((_, _) => Task.FromResult(PrepareResult.Yes));
        Assert.Equal(Vote.Yes, (await working.PrepareAsync(branch, Note(id))).Vote);
        await working.CommitAsync(branch, Note(id));
        Assert.Equal(1, await CountNotesAsync(id));
    }

    [Fact]
    public async Task HandlerSwallowingADatabaseError_DoesNotVoteYes_AndPreparesNothing()
    {
        var branch = NewBranch();
        var id = NewOrderId();
        var swallowing = NotesManager(async (context, cancellationToken) =>
        {
            try
            {
                await using var bad = context.CreateCommand("SELECT 1 / 0");
                await bad.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException)
            {
                // The transaction is aborted now; a Yes must not come out of it.
            }

            return PrepareResult.Yes;
        });

        await Assert.ThrowsAsync<InvalidOperationException>(() => swallowing.PrepareAsync(branch, Note(id)));

        Assert.Null(await swallowing.GetBranchAsync(branch));
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(0, await CountNotesAsync(id));
    }

    [Fact]
    public async Task HandlerVotingReadOnly_KeepsNothing_AndARollbackIsANoOp()
    {
        var branch = NewBranch();
        var id = NewOrderId();
        var manager = NotesManager((_, _) => Task.FromResult(new PrepareResult(Vote.ReadOnly)));

        Assert.Equal(Vote.ReadOnly, (await manager.PrepareAsync(branch, Note(id))).Vote);
        Assert.Equal(Vote.ReadOnly, (await manager.PrepareAsync(branch, Note(id))).Vote);
        Assert.Empty(await PreparedGidsAsync());
        Assert.Equal(0, await CountNotesAsync(id));
        await manager.RollbackAsync(branch, Note(id));
    }

    [Fact]
    public async Task ParticipantsSharingADatabase_KeepTheirBranchesApart()
    {
        var branch = NewBranch();
        var id = NewOrderId();
        var mine = NotesManager((_, _) => Task.FromResult(PrepareResult.Yes));
        var theirs = new PostgresResourceManager(DataSource, Participant + "-b", (_, _) => Task.FromResult(PrepareResult.No("never")), Options);

        Assert.Equal(Vote.Yes, (await mine.PrepareAsync(branch, Note(id))).Vote);
        Assert.Equal(Vote.No, (await theirs.PrepareAsync(branch, Note(id))).Vote);

        Assert.NotEqual(mine.GlobalTransactionIdOf(branch), theirs.GlobalTransactionIdOf(branch));
        Assert.Equal($"{Participant}:tx:{branch.TransactionId}:0", mine.GlobalTransactionIdOf(branch));
        Assert.Single(await mine.ListPreparedAsync(DateTimeOffset.MaxValue, 10));
        Assert.Empty(await theirs.ListPreparedAsync(DateTimeOffset.MaxValue, 10));
        await mine.CommitAsync(branch, Note(id));
    }

    [Fact]
    public void Constructor_RejectsInvalidNamesAndTimeouts()
    {
        Task<PrepareResult> Yes(PostgresBranchContext c, CancellationToken t) => Task.FromResult(PrepareResult.Yes);
        Assert.Throws<ArgumentException>(() => new PostgresResourceManager(DataSource, "Orders:1", Yes));
        Assert.Throws<ArgumentException>(() => new PostgresResourceManager(DataSource, "", Yes));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PostgresResourceManager(DataSource, "orders", Yes, new() { LockTimeout = TimeSpan.Zero }));
        var manager = new PostgresResourceManager(DataSource, "orders", Yes);
        Assert.Throws<ArgumentException>(() => manager.GlobalTransactionIdOf(new BranchKey("bad:id", 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => manager.GlobalTransactionIdOf(new BranchKey("tx", 64)));
    }
}

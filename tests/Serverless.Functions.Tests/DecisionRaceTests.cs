using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;
using Serverless.Participants.Samples;
using Serverless.Testing;
using Xunit.Abstractions;

namespace Serverless.Functions.Tests;

/// <summary>
/// I2 on the real engine: the decision is taken once even when an orchestration episode is replayed with its events in
/// another order. Azure Storage sends an episode's activity messages before it commits the episode's history, so after a
/// crash between the two, a phase-2 activity may already have recorded one decision while the replayed episode meets its
/// events in another order and proposes the other. These tests build that state: a decision record written first, as the
/// earlier episode's phase-2 activity (or an abort request, or in-doubt resolution) would have, and then the events that
/// make the orchestration propose the opposite. The recorded decision must be carried out; ignoring the decision a phase-2
/// activity finds recorded would carry out the proposal instead and fail every assertion on the decision.
/// </summary>
/// <remarks>Each test has hosts of its own: the bank's function is disabled, so that its commands can be counted and delivered by hand.</remarks>
public sealed class DecisionRaceTests(ITestOutputHelper output)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    // Short Durable queue leases: a message the stopped host had fetched but not finished (a phase-2 retry's activity result)
    // comes back in seconds, not the default five minutes, for the host that takes over.
    private static readonly Dictionary<string, string?> ShortLeases = new()
    {
        ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:controlQueueVisibilityTimeout"] = "00:00:05",
        ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:workItemQueueVisibilityTimeout"] = "00:00:05",
    };

    private static readonly Dictionary<string, string?> BankPaused = new(ShortLeases) { ["AzureWebJobs.BankParticipant.Disabled"] = "true" };

    [Fact]
    public async Task CommitRecordedFirst_WhenTheDeadlineThenProposesAbort_CommitIsCarriedOut_AndOnlyCommitsReachTheBank()
    {
        var location = Path.Combine(Path.GetTempPath(), "serverless-tests", Guid.NewGuid().ToString("N"));
        var (id, alice, bob) = (TestHost.Id("race-commit"), TestHost.Id("alice"), TestHost.Id("bob"));
        string[] operations = [Operation("debit", alice, 30), Operation("credit", bob, 30)];
        try
        {
            await using var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { Location = location });
            var logs = new LogCapture();
            DecisionRecord recorded;
            await using (var paused = await TestHost.StartAsync(BankPaused, azurite, logs))
            {
                Step("host with the bank paused started");
                await paused.PutAccountAsync(alice, 100);
                await paused.PutAccountAsync(bob, 0);
                Assert.Equal(HttpStatusCode.Accepted, (await paused.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 5))).StatusCode);

                // Both branches prepared (their votes would be Yes), and Commit recorded with those votes: what the earlier
                // episode did before the crash. Its vote events are not delivered again before the deadline fires. This is
                // done at once, with the operations the request named, so that even a slow machine is done before the deadline.
                var bank = new BankResourceManager(paused.Table("BankAccounts"));
                for (var branch = 0; branch < operations.Length; branch++)
                {
                    Assert.Equal(PrepareResult.Yes, await bank.PrepareAsync(new BranchKey(id, branch), operations[branch]));
                }

                recorded = await paused.Decisions.RecordAsync(id, new DecisionRecord(Decision.Commit, null, DateTimeOffset.UtcNow, [Vote.Yes, Vote.Yes]));
                Assert.True(recorded.Decision == Decision.Commit, $"the deadline decided before the test could record Commit: {recorded}");
                Step("branches prepared by hand, Commit recorded");
                Assert.Equal((100, 30), await paused.GetAccountAsync(alice));

                // The prepares the coordinator sent are those the test executed; they are taken, as executed.
                var inbox = new PausedInbox(paused, "bank");
                var prepares = await inbox.TakeAsync(id, 2, Wait, c => c.Kind == MessageKind.Prepare);
                Assert.Equal(operations, prepares.OrderBy(p => p.Branch).Select(p => p.Message.Operation));

                // The deadline fires: the orchestration proposes Abort, finds Commit recorded, and commits. (Every read shows
                // the recorded Commit from the moment it is recorded.)
                var adopted = $"Transaction {id} proposed Abort but Commit was already recorded";
                await Eventually.WaitAsync(() => Task.FromResult(logs.Lines.Any(l => l.Message.Contains(adopted, StringComparison.Ordinal))), Wait, "the orchestration adopting the recorded Commit");
                var doc = await paused.WaitForStatusAsync(id, Wait, "Committing", "Committed", "Aborting", "Aborted");
                Step("decided");
                Assert.Equal("Commit", doc.GetProperty("decision").GetString());
                Assert.Equal("Committing", doc.GetProperty("status").GetString());
                Assert.All(doc.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Yes", b.GetProperty("vote").GetString()));
                var landed = await Eventually.WaitAsync(
                    async () => await inbox.PeekAsync(id),
                    commands => commands.Select(c => c.Branch).Distinct().Count() == 2,
                    Wait,
                    "phase-2 commands for both branches in the bank's inbox");
                Assert.All(landed, c => Assert.Equal(MessageKind.Commit, c.Kind));
            }
            Step("host with the bank paused stopped");

            // The coordinator's process is gone; another one, with the bank running, comes up on the same storage.
            await using var recovered = await TestHost.StartAsync(ShortLeases, azurite, logs);
            Step("second host started");
            var end = await recovered.WaitForStatusAsync(id, Wait, "Committed", "Aborted");
            Step("ended");
            Assert.Equal("Committed", end.GetProperty("status").GetString());
            Assert.Equal(JsonValueKind.Null, end.GetProperty("reason").ValueKind);
            Assert.All(end.GetProperty("participants").EnumerateArray(), b => Assert.Equal("Committed", b.GetProperty("outcome").GetString()));
            Assert.Equal((70, 0), await recovered.GetAccountAsync(alice));
            Assert.Equal((30, 0), await recovered.GetAccountAsync(bob));
            AssertRecorded(recorded, await recovered.Decisions.GetAsync(id));
            Assert.DoesNotContain(logs.Lines, l => l.Message.Contains(id, StringComparison.Ordinal) && l.Message.Contains("refused", StringComparison.Ordinal));
        }
        finally
        {
            TryDelete(location);
        }
    }

    [Fact]
    public async Task AbortRecordedFirst_WhenEveryVoteIsYesAfterwards_AbortIsCarriedOut_AndEveryReservationIsReleased()
    {
        var (id, alice, bob) = (TestHost.Id("race-abort"), TestHost.Id("alice"), TestHost.Id("bob"));
        var logs = new LogCapture();
        await using var host = await TestHost.StartAsync(BankPaused, logs: logs);
        await host.PutAccountAsync(alice, 100);
        await host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 600))).StatusCode);
        var inbox = new PausedInbox(host, "bank");
        var prepares = await inbox.TakeAsync(id, 2, Wait);

        // Abort recorded before any vote, and no event raised: the orchestration learns of it only from its phase-2 activities.
        const string Reason = "abort recorded before the votes";
        var recorded = await host.Decisions.RecordAsync(id, new DecisionRecord(Decision.Abort, Reason, DateTimeOffset.UtcNow, []));
        Assert.Equal(Decision.Abort, recorded.Decision);

        // Both branches prepare and vote Yes: the orchestration proposes Commit.
        foreach (var prepare in prepares.OrderBy(p => p.Branch))
        {
            await inbox.DeliverAsync(prepare);
        }

        Assert.Equal((100, 30), await host.GetAccountAsync(alice));
        var commands = await PausedInbox.DeliverUntilEndAsync(host, id, Wait, inbox);

        var doc = await host.GetStatusAsync(id);
        Assert.Equal("Aborted", doc.GetProperty("status").GetString());
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal(Reason, doc.GetProperty("reason").GetString());
        Assert.All(doc.GetProperty("participants").EnumerateArray(), b =>
        {
            Assert.Equal("Yes", b.GetProperty("vote").GetString());
            Assert.Equal("RolledBack", b.GetProperty("outcome").GetString());
        });
        Assert.Contains(logs.Lines, l => l.Message.Contains($"Transaction {id} proposed Commit but Abort was already recorded", StringComparison.Ordinal));
        Assert.Equal(["bank Rollback 0", "bank Rollback 1"], commands.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal((100, 0), await host.GetAccountAsync(alice));
        Assert.Equal((0, 0), await host.GetAccountAsync(bob));
        AssertRecorded(recorded, await host.Decisions.GetAsync(id));
    }

    /// <remarks>
    /// The orchestration here waits for votes that never come (the bank's prepares are taken and kept), as one whose
    /// messages a dead process still holds would: it cannot publish anything. A decision recorded meanwhile (by in-doubt
    /// resolution's presumed abort, here by hand) is what every read shows at once.
    /// </remarks>
    [Fact]
    public async Task ADecisionRecordedWhileTheOrchestrationCannotRun_IsWhatEveryReadShowsAtOnce()
    {
        var (id, alice, bob) = (TestHost.Id("recorded"), TestHost.Id("alice"), TestHost.Id("bob"));
        await using var host = await TestHost.StartAsync(BankPaused);
        await host.PutAccountAsync(alice, 100);
        await host.PutAccountAsync(bob, 0);
        Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 600))).StatusCode);
        await new PausedInbox(host, "bank").TakeAsync(id, 2, Wait);
        var before = await host.GetStatusAsync(id);
        Assert.Equal("Preparing", before.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("decision").ValueKind);

        const string Reason = "presumed abort: recorded while the orchestration could not run";
        var recorded = await host.Decisions.RecordAsync(id, new DecisionRecord(Decision.Abort, Reason, DateTimeOffset.UtcNow, []));

        var doc = await host.GetStatusAsync(id);
        Assert.Equal("Aborting", doc.GetProperty("status").GetString());
        Assert.Equal("Abort", doc.GetProperty("decision").GetString());
        Assert.Equal(Reason, doc.GetProperty("reason").GetString());
        Assert.Equal(recorded.DecidedAt, doc.GetProperty("decidedAt").GetDateTimeOffset());
        Assert.Contains(await ListIdsAsync(host, "Aborting"), i => i == id);
        Assert.DoesNotContain(await ListIdsAsync(host, "Preparing"), i => i == id);
    }

    private static async Task<List<string>> ListIdsAsync(TestHost host, string status)
    {
        var page = await host.Client.GetFromJsonAsync<JsonElement>($"/api/transactions?status={status}&top=1000");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];
    }

    private void Step(string what) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

    /// <summary>An operation as the API hands it on: the request's JSON object, compact.</summary>
    private static string Operation(string type, string account, long amount) => JsonSerializer.Serialize(new { type, account, amount });

    private static void AssertRecorded(DecisionRecord expected, DecisionRecord? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Decision, actual.Decision);
        Assert.Equal(expected.Reason, actual.Reason);
        Assert.Equal(expected.Votes.AsEnumerable(), actual.Votes.AsEnumerable());
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

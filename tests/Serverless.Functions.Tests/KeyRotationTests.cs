using System.Net;
using System.Text;
using Serverless.Core.Messaging;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// The rotation procedure of docs/security.md walked through on real hosts sharing one storage account, with commands in flight at
/// every step: (1) the new key is added as accepted, (2) it becomes current and the old one is only accepted, (3) the old one is
/// retired. No transaction is lost or stuck, and a message signed with the retired key is poisoned saying so.
/// </summary>
public sealed class KeyRotationTests
{
    private const int PoisonedEvent = 3000;
    private const string OldKey = "the-old-signing-key-of-the-rotation-test-0123456789";
    private const string NewKey = "the-new-signing-key-of-the-rotation-test-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Rotation_WithCommandsInFlightAtEveryStep_LosesNoTransaction_AndTheRetiredKeyIsRefused()
    {
        await using var azurite = await AzuriteInstance.StartAsync(new AzuriteOptions { Location = Path.Combine(Path.GetTempPath(), "serverless-tests", Guid.NewGuid().ToString("N")) });
        var (first, second, alice, bob) = (TestHost.Id("rot1"), TestHost.Id("rot2"), TestHost.Id("alice"), TestHost.Id("bob"));
        // The bank's commands are signed with the bank's key, derived from the coordinator's: rotating the one rotates the other.
        var oldId = MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(OldKey, "bank")));
        var newId = MessageCodec.KeyIdOf(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(NewKey, "bank")));

        // 0. Everything on the old key. The first transfer's prepares are sent, and still in the queue when the host stops.
        IReadOnlyList<QueuedCommand> firstPrepares;
        await using (var host = await StartAsync(azurite, OldKey, previous: null))
        {
            await host.PutAccountAsync(alice, 100);
            await host.PutAccountAsync(bob, 0);
            Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(Transfer(first, alice, bob, 30))).StatusCode);
            firstPrepares = await new PausedInbox(host, "bank").TakeAsync(first, 2, Wait);
            Assert.All(firstPrepares, c => Assert.Contains($"\"kid\":\"{oldId}\"", c.Text, StringComparison.Ordinal));
        }

        // 1. The new key is accepted everywhere, the old one still signs: the old prepares are acted on; the commits go out
        //    signed with the old key and are in flight when the host stops.
        IReadOnlyList<QueuedCommand> firstCommits;
        await using (var host = await StartAsync(azurite, OldKey, previous: NewKey))
        {
            var bank = new PausedInbox(host, "bank");
            foreach (var prepare in firstPrepares)
            {
                await bank.DeliverAsync(prepare);
            }

            firstCommits = await bank.TakeAsync(first, 2, Wait, c => c.Kind == MessageKind.Commit);
            Assert.All(firstCommits, c => Assert.Contains($"\"kid\":\"{oldId}\"", c.Text, StringComparison.Ordinal));
        }

        // 2. The new key is current, the old one previous: the old commits in flight are acted on, and a second transfer runs
        //    on the new key; one of its commits is still in flight when the host stops.
        QueuedCommand secondCommitInFlight;
        await using (var host = await StartAsync(azurite, NewKey, previous: OldKey))
        {
            var bank = new PausedInbox(host, "bank");
            foreach (var commit in firstCommits)
            {
                await bank.DeliverAsync(commit);
            }

            await host.WaitForStatusAsync(first, Wait, "Committed");
            Assert.Equal(HttpStatusCode.Accepted, (await host.StartAsync(Transfer(second, alice, bob, 10))).StatusCode);
            foreach (var prepare in await bank.TakeAsync(second, 2, Wait))
            {
                Assert.Contains($"\"kid\":\"{newId}\"", prepare.Text, StringComparison.Ordinal);
                await bank.DeliverAsync(prepare);
            }

            var secondCommits = await bank.TakeAsync(second, 2, Wait, c => c.Kind == MessageKind.Commit);
            await bank.DeliverAsync(secondCommits[0]);
            secondCommitInFlight = secondCommits[1];

            // The acknowledgement is taken in before the host stops (a stopped host's half-processed event would wait out
            // Durable's control-queue lease): only the other commit is in flight.
            await Eventually.WaitAsync(
                async () => (await host.GetStatusAsync(second)).GetProperty("participants")[secondCommits[0].Branch].GetProperty("outcome").GetString() == "Committed",
                Wait,
                "the first commit of the second transfer acknowledged");
        }

        // 3. The old key is retired: the new key's command in flight is acted on; one signed with the old key is poisoned,
        //    and the log says it was signed with a key no longer accepted.
        var logs = new LogCapture();
        await using (var host = await StartAsync(azurite, NewKey, previous: null, logs))
        {
            var bank = new PausedInbox(host, "bank");
            await bank.DeliverAsync(secondCommitInFlight);
            await host.WaitForStatusAsync(second, Wait, "Committed");

            var stale = firstCommits[0];
            await bank.DeliverAsync(stale);
            var poison = host.Queue(QueueNames.Poison(QueueNames.Participant("bank")));
            Assert.Contains(stale.Text, (await poison.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString()));
            Assert.Equal(1, logs.Count(PoisonedEvent, $"signed with a key that is not accepted here (kid {oldId}): a retired key"));

            Assert.Equal((60, 0), await host.GetAccountAsync(alice));
            Assert.Equal((40, 0), await host.GetAccountAsync(bob));
        }

        logs.Dispose();
    }

    private static Task<TestHost> StartAsync(AzuriteInstance azurite, string key, string? previous, LogCapture? logs = null) => TestHost.StartAsync(
        new Dictionary<string, string?>
        {
            ["TRANSACTIONS_SIGNING_KEY"] = key,
            ["TRANSACTIONS_SIGNING_KEYS_PREVIOUS"] = previous,
            ["AzureWebJobs.BankParticipant.Disabled"] = "true",
            ["AzureWebJobs.InventoryParticipant.Disabled"] = "true",
            ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "600",

            // Each step stops a host with Durable's own messages possibly mid-flight; their lease (5 minutes by default)
            // would hold the next step's host back that long. A short one hands them over at once (Durable tolerates the
            // redelivery of a message whose lease ran out, as after any crash).
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:controlQueueVisibilityTimeout"] = "00:00:05",
            ["AzureFunctionsJobHost:extensions:durableTask:storageProvider:workItemQueueVisibilityTimeout"] = "00:00:05",
        },
        azurite,
        logs);

    private static object Transfer(string id, string from, string to, long amount) => new
    {
        transactionId = id,
        timeoutSeconds = 600,
        participants = new object[]
        {
            new { participant = "bank", operation = new { type = "debit", account = from, amount } },
            new { participant = "bank", operation = new { type = "credit", account = to, amount } },
        },
    };
}

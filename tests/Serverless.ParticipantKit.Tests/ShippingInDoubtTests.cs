using System.Net;
using System.Text.Json;
using Microsoft.DurableTask.Client;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>
/// In-doubt resolution end to end, across two apps: the coordinator (the local Functions host in this process) and the
/// shipping app (another team's app on the kit, a process of its own, its own PostgreSQL database). A transaction of shipping
/// and <c>ghost</c> (a participant nobody serves) is decided while shipping is down; its phase-2 command to shipping is
/// taken out of shipping's inbox and its orchestration terminated, so nothing the coordinator does of itself can finish
/// shipping's branch (phase 2 is re-sent only after an hour here). Shipping, started again, finds the branch prepared longer
/// than <c>TRANSACTIONS_IN_DOUBT_SECONDS</c> (5 s, asked every 2 s), asks through <c>tx-coordinator</c>, and the coordinator
/// answers from its decision record.
/// </summary>
public sealed class ShippingInDoubtTests(ShippingInDoubtTests.Fixture fixture) : IClassFixture<ShippingInDoubtTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private TestHost Host => fixture.Host;

    private ShippingServer Shipping => fixture.Shipping;

    [Fact]
    public async Task AShipmentInDoubt_WhoseTransactionWasAborted_AndWhoseOrchestrationWasTerminated_IsRolledBackWhenShippingAsks()
    {
        var (id, order) = (TestHost.Id("doubt-abort"), TestHost.Id("o"));
        await StartAndWaitForShippingsYesAsync(id, order, "5 Ferry Lane");
        await Shipping.KillAsync();
        try
        {
            using (var abort = await Host.Client.PostAsync($"/api/transactions/{id}/abort", null))
            {
                Assert.Equal(HttpStatusCode.Accepted, abort.StatusCode);
            }

            await Host.WaitForStatusAsync(id, s => s.GetProperty("decision").GetString() == "Abort", Wait, "Abort decided");
            await LoseShippingsPhaseTwoAsync(id, MessageKind.Rollback);
        }
        finally
        {
            await Shipping.RestartAsync();
        }

        await Eventually.WaitAsync(async () => !await IsPreparedAsync(id), Wait, $"shipping's branch of {id} to be finished");
        Assert.Null(await Shipping.ShipmentAsync(order));
        Assert.Equal(0, await CountShipmentsAsync(order));
        Assert.Equal(Decision.Abort, (await Host.Decisions.GetAsync(id))!.Decision);
        await AssertShippingAskedAsync(id);
    }

    [Fact]
    public async Task AShipmentInDoubt_WhoseTransactionWasCommitted_AndWhoseOrchestrationWasTerminated_IsScheduledWhenShippingAsks()
    {
        var (id, order) = (TestHost.Id("doubt-commit"), TestHost.Id("o"));
        await StartAndWaitForShippingsYesAsync(id, order, "6 Ropewalk");
        await Shipping.KillAsync();
        try
        {
            // ghost's Yes, signed with ghost's key, as a participant outside the app sends it.
            await Host.Queue(QueueNames.Coordinator).SendMessageAsync(
                Host.CodecOf("ghost").Encode(new ProtocolMessage(MessageKind.Vote, id) { Branch = 1, Participant = "ghost", Vote = Vote.Yes }));
            await Host.WaitForStatusAsync(id, s => s.GetProperty("decision").GetString() == "Commit", Wait, "Commit decided");
            await LoseShippingsPhaseTwoAsync(id, MessageKind.Commit);
        }
        finally
        {
            await Shipping.RestartAsync();
        }

        var shipment = (await Eventually.WaitAsync<JsonElement?>(() => Shipping.ShipmentAsync(order), s => s.HasValue, Wait, $"the shipment of {order}"))!.Value;
        Assert.Equal("6 Ropewalk", shipment.GetProperty("address").GetString());
        Assert.Equal("scheduled", shipment.GetProperty("status").GetString());
        Assert.False(await IsPreparedAsync(id));
        Assert.Equal(Decision.Commit, (await Host.Decisions.GetAsync(id))!.Decision);
        await AssertShippingAskedAsync(id);
    }

    private async Task StartAndWaitForShippingsYesAsync(string id, string order, string address)
    {
        using (var started = await Host.StartAsync(new
        {
            transactionId = id,
            timeoutSeconds = 600,
            participants = new object[]
            {
                new { participant = "shipping", operation = new { type = "schedule", orderId = order, address } },
                new { participant = "ghost", operation = new { never = "served" } },
            },
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        }

        await Host.WaitForStatusAsync(id, s => s.GetProperty("participants")[0].GetProperty("vote").GetString() == "Yes", Wait, "shipping's Yes");
        Assert.True(await IsPreparedAsync(id), $"shipping voted Yes on {id} but holds no prepared transaction for it");
        Assert.Null(await Shipping.ShipmentAsync(order));
    }

    /// <summary>
    /// While shipping is down: takes the decided command out of its inbox once the orchestration has sent it, then terminates
    /// the orchestration, so that the command is never sent again; the branch stays prepared, in doubt.
    /// </summary>
    private async Task LoseShippingsPhaseTwoAsync(string id, MessageKind kind)
    {
        var inbox = Host.Queue(QueueNames.Participant("shipping"));
        await Eventually.WaitAsync(
            async () =>
            {
                if (!await inbox.ExistsAsync())
                {
                    return false;
                }

                var taken = false;
                foreach (var message in (await inbox.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(10))).Value)
                {
                    Assert.True(Host.CodecOf("shipping").TryDecode(message.Body.ToString(), out var command, out var error), error);
                    if (command!.TransactionId == id)
                    {
                        Assert.Equal(kind, command.Kind);
                        await inbox.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                        taken = true;
                    }
                    else
                    {
                        await inbox.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                    }
                }

                return taken;
            },
            Wait,
            $"the {kind} of {id} in shipping's inbox");

        await Host.Durable().TerminateInstanceAsync(id, new TerminateInstanceOptions { Output = "test: an operator's terminate" });
        await Eventually.WaitAsync(
            async () => (await Host.Durable().GetInstanceAsync(id))?.RuntimeStatus == OrchestrationRuntimeStatus.Terminated, Wait, $"orchestration {id} terminated");

        var left = (await inbox.PeekMessagesAsync(32)).Value.Select(m => m.Body.ToString())
            .Where(text => Host.CodecOf("shipping").TryDecode(text, out var command, out _) && command!.TransactionId == id);
        Assert.Empty(left);
        Assert.True(await IsPreparedAsync(id), $"shipping's branch of {id} is no longer prepared, though no {kind} reached it");
    }

    private async Task<bool> IsPreparedAsync(string id) => (await Shipping.PreparedGidsAsync()).Any(gid => gid.Contains(id, StringComparison.Ordinal));

    private async Task<long> CountShipmentsAsync(string order)
    {
        await using var connection = new Npgsql.NpgsqlConnection(Shipping.Database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT count(*) FROM shipments WHERE order_id = $1", connection) { Parameters = { new() { Value = order } } };
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The restarted shipping app logged its inquiry about the branch (the kit's event 2020). Waited for: the console logger
    /// writes on a thread of its own, so on a busy machine the line may reach the output after the branch was finished.
    /// </summary>
    private Task AssertShippingAskedAsync(string id) =>
        Eventually.WaitAsync(
            () => Task.FromResult(Shipping.Output.Contains($"Transaction {id}: participant shipping branch 0 has been prepared since", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            $"the shipping app to log an inquiry about {id}. Its output:\n{Shipping.Output}");

    /// <summary>
    /// The coordinator (bank in its app; shipping by its inbox; ghost served by nobody; phase 2 re-sent only after an hour;
    /// ended runs not finished by the coordinator) and
    /// the shipping app on a database of its own, with the key the coordinator derives for it.
    /// </summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private readonly PostgresServer _postgres = new();
        private TestHost? _host;
        private ShippingServer? _shipping;

        public TestHost Host => _host ?? throw new InvalidOperationException("not started");

        public ShippingServer Shipping => _shipping ?? throw new InvalidOperationException("not started");

        public async Task InitializeAsync()
        {
            await _postgres.InitializeAsync();
            _host = await TestHost.StartAsync(new Dictionary<string, string?>
            {
                ["TRANSACTIONS_PARTICIPANTS"] = "bank,ghost,shipping",
                ["PARTICIPANT_SHIPPING_KINDS"] = "2pc",
                ["TRANSACTIONS_PHASE2_RETRY_SECONDS"] = "3600",

                // The coordinator does not finish the terminated runs itself here (it would, on its in-doubt schedule, and
                // send shipping its phase 2 before shipping asked): these tests are about the participant's inquiry.
                ["AzureWebJobs.FinishEndedTransactions.Disabled"] = "true",
            });
            _shipping = await ShippingServer.StartAsync(
                Host.ConnectionString, ParticipantKeyring.DeriveKey(TestHost.SigningKey, "shipping"), await _postgres.DatabaseAsync(nameof(ShippingInDoubtTests)));
        }

        public async Task DisposeAsync()
        {
            if (_shipping is not null)
            {
                await _shipping.DisposeAsync();
            }

            if (_host is not null)
            {
                await _host.DisposeAsync();
            }

            await _postgres.DisposeAsync();
        }
    }
}

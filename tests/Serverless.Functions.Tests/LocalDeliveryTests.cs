using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>
/// Local delivery and the early answer, through the real queue functions: the start request hands the prepares of this
/// app's bank to it in its own process (each first sent to the inbox hidden, deleted once handled), the two votes are
/// recorded with Commit in one request, and a start waiting for the outcome is answered when the deciding voter has ended
/// the transaction, with the document every later read shows.
/// </summary>
public sealed class LocalDeliveryTests(LocalDeliveryTests.Fixture fixture) : IClassFixture<LocalDeliveryTests.Fixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private TestHost Host => fixture.Host;

    private LogCapture Logs => fixture.Logs;

    [Fact]
    public async Task ATransferBetweenTwoAccountsOfThisApp_IsPreparedInTheStartsProcess_DecidedInOneRequest_AndAnsweredWhenItsVoterEndsIt()
    {
        var (id, alice, bob) = (TestHost.Id("local"), TestHost.Id("alice"), TestHost.Id("bob"));
        await Host.PutAccountAsync(alice, 100);
        await Host.PutAccountAsync(bob, 0);

        using var response = await Host.StartAsync(TestHost.Transfer(id, alice, bob, 30, timeoutSeconds: 60), waitSeconds: 30);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Committed", answered.GetProperty("status").GetString());
        Assert.Equal((70, 0), await Host.GetAccountAsync(alice));
        Assert.Equal((30, 0), await Host.GetAccountAsync(bob));

        // Both prepares handled here and deleted from the inbox, their votes and Commit written in one request, and the
        // start answered from the deciding voter's report.
        await Eventually.WaitAsync(() => Task.FromResult(Logs.Count(2014, $"Transaction {id}:") == 2), Wait, "both prepares to be deleted once handled");
        Assert.Equal(1, Logs.Count(2009, $"Transaction {id}:"));
        Assert.Equal(1, Logs.Count(1012, $"Transaction {id}:"));
        var inbox = Host.Queue(StorageNames.ParticipantQueue("bank"));
        Assert.Equal(0, (await inbox.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        var rows = new List<string>();
        await foreach (var row in Host.Decisions.Table.QueryAsync<TableEntity>(e => e.PartitionKey == id))
        {
            rows.Add(row.RowKey);
        }

        Assert.Equal(["decision", "end", "vote-00", "vote-01"], rows.Order());

        // Once the orchestration has applied the report, the same document, times included.
        await Eventually.WaitAsync(
            async () => await Host.Services.GetRequiredService<DurableTaskClient>().GetInstanceAsync(id) is { IsCompleted: true }, Wait, "the orchestration to end");
        Assert.Equal(answered.GetRawText(), (await Host.GetStatusAsync(id)).GetRawText());
    }

    public sealed class Fixture : HostFixture
    {
        protected override IReadOnlyDictionary<string, string?>? Settings() => new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Serverless.Functions.Participants"] = "Debug",
            ["Logging:LogLevel:Serverless.Functions.Api"] = "Debug",
        };
    }
}

using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The decision record's first-writer-wins insert against Azurite, including an insert whose response is lost.</summary>
public sealed class DecisionStoreTests : IAsyncLifetime
{
    private AzuriteInstance? _azurite;

    private AzuriteInstance Azurite => _azurite ?? throw new InvalidOperationException("Azurite has not started.");

    public async Task InitializeAsync() => _azurite = await AzuriteInstance.StartAsync();

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }

    [Fact]
    public async Task RecordFirst_TheFirstWriterIsTold_AndALaterWriterGetsTheFirstRecord()
    {
        var store = await StoreAsync(loseFirstInsertResponse: false);
        var id = TestHost.Id("first");

        var first = await store.RecordFirstAsync(id, Commit);
        var second = await store.RecordFirstAsync(id, Commit);
        var abort = await store.RecordFirstAsync(id, new DecisionRecord(Decision.Abort, "late", DateTimeOffset.UtcNow, []));

        Assert.Equal((Decision.Commit, true), (first.Recorded.Decision, first.Inserted));
        Assert.Equal((Decision.Commit, false), (second.Recorded.Decision, second.Inserted));
        Assert.Equal((Decision.Commit, false), (abort.Recorded.Decision, abort.Inserted));
    }

    [Fact]
    public async Task RecordFirst_WhoseInsertSucceededButWhoseResponseWasLost_IsStillTheWriter_AfterTheClientsRetryMeetsItsOwnRow()
    {
        var store = await StoreAsync(loseFirstInsertResponse: true);
        var id = TestHost.Id("lost-response");

        var (recorded, inserted) = await store.RecordFirstAsync(id, Commit);

        Assert.Equal(Decision.Commit, recorded.Decision);
        Assert.True(inserted, "the retried insert met this call's own row: this call recorded the decision");
        Assert.Equal(Decision.Commit, (await store.GetAsync(id))?.Decision);
        Assert.False((await store.RecordFirstAsync(id, Commit)).Inserted);
    }

    private static DecisionRecord Commit => new(Decision.Commit, null, DateTimeOffset.UtcNow, [Vote.Yes, Vote.Yes]);

    private async Task<DecisionStore> StoreAsync(bool loseFirstInsertResponse)
    {
        var options = new TableClientOptions();
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        var lost = new LoseFirstInsertResponse();
        if (loseFirstInsertResponse)
        {
            options.AddPolicy(lost, HttpPipelinePosition.PerRetry);
        }

        var table = new TableClient(Azurite.ConnectionString, "Decisions" + Guid.NewGuid().ToString("N")[..8], options);
        await table.CreateIfNotExistsAsync();
        lost.Armed = true;
        return new DecisionStore(table);
    }

    /// <summary>Lets the first insert reach storage, then fails it as a dropped connection would: the client retries it.</summary>
    private sealed class LoseFirstInsertResponse : HttpPipelinePolicy
    {
        public bool Armed { get; set; }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            ProcessNext(message, pipeline);
            LoseIfFirstInsert(message);
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            await ProcessNextAsync(message, pipeline);
            LoseIfFirstInsert(message);
        }

        private void LoseIfFirstInsert(HttpMessage message)
        {
            if (Armed && message.Request.Method == RequestMethod.Post && message.Response.Status is 201 or 204)
            {
                Armed = false;
                throw new IOException("the insert's response was lost on the way back");
            }
        }
    }
}

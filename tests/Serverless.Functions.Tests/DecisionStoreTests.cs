using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The decision record's first-writer-wins insert against Azurite, including an insert whose response is lost, and its delete.</summary>
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
    public async Task Record_TheFirstRecordHolds_AndEveryLaterWriterIsGivenIt()
    {
        var store = await StoreAsync(loseFirstInsertResponse: false);
        var id = TestHost.Id("first");
        var commit = Commit;

        var first = await store.RecordAsync(id, commit);
        var abort = await store.RecordAsync(id, new DecisionRecord(Decision.Abort, "late", DateTimeOffset.UtcNow, []));

        Assert.Equal(commit, first);
        Assert.Equal(Decision.Commit, abort.Decision);
        Assert.Null(abort.Reason);
        Assert.Equal(commit.Votes.AsEnumerable(), abort.Votes.AsEnumerable());
    }

    [Fact]
    public async Task Record_WhoseInsertSucceededButWhoseResponseWasLost_ReturnsTheRecordItWrote_AfterTheClientsRetryMeetsItsOwnRow()
    {
        var store = await StoreAsync(loseFirstInsertResponse: true);
        var id = TestHost.Id("lost-response");

        var recorded = await store.RecordAsync(id, Commit);

        Assert.Equal(Decision.Commit, recorded.Decision);
        Assert.Equal(Decision.Commit, (await store.GetAsync(id))?.Decision);
    }

    [Fact]
    public async Task Delete_RemovesTheRecordItRead_AndDeletingNothingIsNoError()
    {
        var store = await StoreAsync(loseFirstInsertResponse: false);
        var id = TestHost.Id("delete");
        await store.RecordAsync(id, Commit);
        var read = (await store.GetWithETagAsync(id))!.Value;

        await store.DeleteAsync(id, read.ETag);
        await store.DeleteAsync(id, read.ETag);

        Assert.Null(await store.GetAsync(id));
        Assert.Equal(Decision.Abort, (await store.RecordAsync(id, new DecisionRecord(Decision.Abort, "new", DateTimeOffset.UtcNow, []))).Decision);
    }

    [Fact]
    public async Task Delete_LeavesARecordWrittenSinceItWasRead()
    {
        var store = await StoreAsync(loseFirstInsertResponse: false);
        var id = TestHost.Id("delete-again");
        await store.RecordAsync(id, Commit);
        var read = (await store.GetWithETagAsync(id))!.Value;
        await store.DeleteAsync(id, read.ETag);
        await store.RecordAsync(id, new DecisionRecord(Decision.Abort, "written since", DateTimeOffset.UtcNow, []));

        await store.DeleteAsync(id, read.ETag);

        Assert.Equal("written since", (await store.GetAsync(id))?.Reason);
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

using System.Security.Cryptography;
using Azure.Data.Tables;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The begin records of transactions only the coordinator can finish, against Azurite: first writer holds, any size of request, past-deadline reads, conditional delete.</summary>
public sealed class BeginRecordsTests : IAsyncLifetime
{
    private AzuriteInstance? _azurite;
    private TableClient? _table;

    private TableClient Table => _table ?? throw new InvalidOperationException("Azurite has not started.");

    public async Task InitializeAsync()
    {
        _azurite = await AzuriteInstance.StartAsync();
        _table = new TableClient(_azurite.ConnectionString, "Decisions" + Guid.NewGuid().ToString("N")[..8]);
    }

    public async Task DisposeAsync()
    {
        if (_azurite is not null)
        {
            await _azurite.DisposeAsync();
        }
    }

    [Fact]
    public async Task ARepeatedStart_IsGivenTheFirstStartsRequest_WithItsSagaKeysAndCreationTime_InANewTable()
    {
        var records = new BeginRecords(Table);
        var first = Request(TestHost.Id("tx"), DateTimeOffset.UtcNow.AddSeconds(-40), operationBytes: 100);
        var repeat = first with { CreatedAt = DateTimeOffset.UtcNow, SagaNonce = "another" };

        Assert.Same(first, await records.BeginAsync(first));
        var held = await records.BeginAsync(repeat);

        Assert.Equal(first.SagaNonce, held.SagaNonce);
        Assert.Equal(first.CreatedAt, held.CreatedAt);
        Assert.Equal(first.Branches, held.Branches);
    }

    [Fact]
    public async Task ARequestOfManyBranches_BeyondOneProperty_IsReadBackWhole_OnlyOnceItsDeadlinePassed_AndDeletedUnlessWrittenAgain()
    {
        var records = new BeginRecords(Table);
        var now = DateTimeOffset.UtcNow;

        // Random hex operations, about 200 KB, compress to about half: two binary properties of 64 KiB at most.
        var large = Request(TestHost.Id("large"), now.AddSeconds(-60), operationBytes: 50_000);
        var running = Request(TestHost.Id("running"), now, operationBytes: 10);
        await records.BeginAsync(large);
        await records.BeginAsync(running);

        var past = await PastAsync(records, now);
        var read = Assert.Single(past);
        Assert.Equal(large.Id, read.Id);
        Assert.Equal(large.Branches, read.Request!.Branches);
        Assert.Equal(large.RequestHash, read.Request.RequestHash);

        // A record written again since it was read is kept; the one read is deleted.
        await Table.UpdateEntityAsync(new TableEntity(BeginRecords.PartitionKey, large.Id) { ["Note"] = "written again" }, Azure.ETag.All, TableUpdateMode.Merge);
        await records.DeleteAsync(read);
        Assert.Single(await PastAsync(records, now));
        await records.DeleteAsync(Assert.Single(await PastAsync(records, now)));
        Assert.Empty(await PastAsync(records, now));
    }

    [Fact]
    public async Task ARowThatIsNotARequestOfItsTransaction_IsReadAsUnreadable_NotThrown()
    {
        var records = new BeginRecords(Table);
        await Table.CreateIfNotExistsAsync();
        await Table.AddEntityAsync(new TableEntity(BeginRecords.PartitionKey, "broken") { ["Deadline"] = DateTimeOffset.UtcNow.AddMinutes(-1), ["Request"] = new byte[] { 1, 2, 3 } });

        var read = Assert.Single(await PastAsync(records, DateTimeOffset.UtcNow));

        Assert.Equal("broken", read.Id);
        Assert.Null(read.Request);
    }

    private static async Task<List<BeginRecord>> PastAsync(BeginRecords records, DateTimeOffset before)
    {
        List<BeginRecord> found = [];
        await foreach (var record in records.PastDeadlineAsync(before))
        {
            found.Add(record);
        }

        return found;
    }

    private static TransactionRequest Request(string id, DateTimeOffset createdAt, int operationBytes)
    {
        BranchRequest[] branches =
        [
            .. Enumerable.Range(0, 4).Select(i => new BranchRequest(
                "payments", $"{{\"type\":\"charge\",\"note\":\"{Convert.ToHexString(RandomNumberGenerator.GetBytes(operationBytes / 2))}\"}}", BranchKind.Saga)),
        ];
        return new TransactionRequest(id, 30, branches, "hash-" + id, createdAt, SagaNonce: "nonce-" + id);
    }
}

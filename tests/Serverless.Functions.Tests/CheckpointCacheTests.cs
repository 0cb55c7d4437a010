using Azure;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Storage;
using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>The coordinator's per-process memory of checkpoints: bounded, and never trusted over a newer write.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class CheckpointCacheTests(AzuriteFixture azurite)
{
    [Fact]
    public void Cache_KeepsTheMostRecentlyUsed_AndForgetsAStateWithoutAnETag()
    {
        var cache = new CheckpointCache(capacity: 2);
        cache.Put(Stored("a"));
        cache.Put(Stored("b"));
        Assert.NotNull(cache.Get("a"));
        cache.Put(Stored("c"));

        Assert.NotNull(cache.Get("a"));
        Assert.Null(cache.Get("b"));
        Assert.NotNull(cache.Get("c"));
        Assert.Equal(2, cache.Count);

        cache.Put(Stored("a") with { ETag = default });
        Assert.Null(cache.Get("a"));
    }

    [Fact]
    public async Task Coordinator_WhoseRememberedCheckpointIsStale_ReloadsInsteadOfOverwritingTheNewerWrite()
    {
        await using var host = await TestHost.StartAsync(azurite.Azurite.ConnectionString);
        var coordinator = host.Services.GetRequiredService<TransactionCoordinator>();

        // "ghost" is configured but runs nowhere, so only this test moves the transaction.
        await host.StartAsync(new
        {
            transactionId = "stale-cache",
            participants = new object[] { new { participant = "ghost", operation = new { } }, new { participant = "ghost", operation = new { } } },
        });

        // Another process records branch 0's Yes vote behind this coordinator's back.
        var stored = (await coordinator.Store.LoadAsync("stale-cache"))!;
        var voted = Coordinator.Apply(stored.State, new VoteCast(0, Vote.Yes), DateTimeOffset.UtcNow, new CoordinatorOptions()).State;
        Assert.NotNull(await coordinator.Store.SaveAsync(stored.State, voted, stored.ETag, stored.RequestHash));

        // Branch 1's vote, applied to the remembered (vote-less) state, would not decide; the conflict makes it reload.
        await coordinator.HandleAsync(new ProtocolMessage(MessageKind.Vote, "stale-cache") { Branch = 1, Vote = Vote.Yes });

        var state = (await coordinator.GetAsync("stale-cache"))!;
        Assert.Equal(Decision.Commit, state.Decision);
        Assert.All(state.Branches, b => Assert.Equal(Vote.Yes, b.Vote));
    }

    private static StoredTransaction Stored(string id) => new(
        TransactionState.Create(id, [("bank", "{}")], DateTimeOffset.UnixEpoch, TimeSpan.FromSeconds(30)),
        new ETag("W/\"1\""),
        "hash");
}

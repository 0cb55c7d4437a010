using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.Core.Participants;
using Serverless.Core.Protocol;

namespace Serverless.ParticipantKit.Tests;

/// <summary>What the kit's one registration call refuses, before the app ever takes a message.</summary>
public sealed class KitRegistrationTests
{
    [Theory]
    [InlineData("demo", "PARTICIPANT_DEMO_SIGNING_KEY")]
    [InlineData("demo-eu", "PARTICIPANT_DEMO_EU_SIGNING_KEY")]
    public void RegisteringAParticipantWithoutItsKey_FailsWithAMessageNamingTheSettingToSet(string participant, string setting)
    {
        var settings = KitApp.Settings(participant, "UseDevelopmentStorage=true");
        settings.Remove(setting);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

        var failure = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddParticipant(participant, configuration, _ => new NothingResourceManager(), BranchKind.TwoPhase));

        Assert.StartsWith($"{setting} is not set.", failure.Message, StringComparison.Ordinal);
        Assert.Contains($"scripts/participant-key.sh {participant}", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegisteringAParticipantWithAKeyTooShort_FailsNamingTheSetting_WithoutShowingTheKey()
    {
        var settings = KitApp.Settings("demo", "UseDevelopmentStorage=true");
        settings["PARTICIPANT_DEMO_SIGNING_KEY"] = "short-secret-key";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

        var failure = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddParticipant("demo", configuration, _ => new NothingResourceManager()));

        Assert.StartsWith("PARTICIPANT_DEMO_SIGNING_KEY: a key is 16 bytes, at least 32 are required", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("short-secret-key", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>Never used: registration fails before any resource manager is made.</summary>
    private sealed class NothingResourceManager : IResourceManager
    {
        public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default) => throw new NotSupportedException();
    }
}

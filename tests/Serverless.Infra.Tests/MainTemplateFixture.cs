using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Bicep;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>Compiles infra/main.bicep once for every test in <see cref="MainTemplateCollection"/>.</summary>
public sealed class MainTemplateFixture : IAsyncLifetime
{
    private ArmTemplate? _template;

    public BicepBuild Build { get; private set; } = null!;

    /// <summary>The compiled template; throws with the compiler's output when the build failed.</summary>
    public ArmTemplate Template => _template ??= Build.ExitCode == 0
        ? new ArmTemplate(Build.Json)
        : throw new InvalidOperationException($"bicep build failed with exit code {Build.ExitCode}:\n{Build.StandardError}");

    public async Task InitializeAsync() => Build = await BicepCompiler.BuildAsync(Repository.MainBicep);

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The default of main.bicep's <c>participants</c>: the participants the coordinator's app hosts itself.</summary>
    public IReadOnlyList<string> DefaultParticipants =>
        [.. (Template.Root.Parameter("participants")?["defaultValue"]?.AsArray() ?? []).Select(n => ArmScope.AsString(n) ?? string.Empty)];

    /// <summary>
    /// The coordinator's resources of a type: those the template deploys (not <c>existing</c> ones) outside a
    /// participant's modules (participant-app.bicep, deployed as <c>participant-{name}</c>, and participant-key.bicep).
    /// </summary>
    public IEnumerable<ArmResource> CoordinatorResources(string type) =>
        Template.OfType(type).Where(r => !r.IsExisting && !r.Scope.DeploymentNames.Any(n => n.Contains("participant-", StringComparison.Ordinal)));

    /// <summary>The coordinator's one resource of a type, failing when there is none or several.</summary>
    public ArmResource OnlyResource(string type)
    {
        var found = CoordinatorResources(type).ToList();
        Assert.True(found.Count == 1, $"Expected exactly one {type} of the coordinator in the template, found {found.Count}.");
        return found[0];
    }
}

[CollectionDefinition(Name)]
public sealed class MainTemplateCollection
    : ICollectionFixture<MainTemplateFixture>,
      ICollectionFixture<DefaultDeploymentFixture>,
      ICollectionFixture<ExternalParticipantDeploymentFixture>,
      ICollectionFixture<SampleDeploymentFixture>
{
    public const string Name = "infra/main.bicep";
}

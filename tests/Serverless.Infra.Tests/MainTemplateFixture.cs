using System.Text.Json.Nodes;
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

    /// <summary>The one resource of a type, failing when there is none or several.</summary>
    public ArmResource OnlyResource(string type)
    {
        var found = Template.OfType(type).ToList();
        Assert.True(found.Count == 1, $"Expected exactly one {type} in the template, found {found.Count}.");
        return found[0];
    }

    public ArmResource FunctionApp => OnlyResource("Microsoft.Web/sites");

    public IReadOnlyList<AppSetting> AppSettings => FunctionApp.AppSettings();

    public AppSetting Setting(string name)
    {
        var matches = AppSettings.Where(s => s.Name == name).ToList();
        Assert.True(matches.Count == 1, $"Expected one app setting {name}; the app settings are: {string.Join(", ", AppSettings.Select(s => s.Name))}.");
        return matches[0];
    }

    /// <summary>A node of the function app's <c>properties</c> by path, e.g. <c>functionAppConfig.runtime.name</c>.</summary>
    public JsonNode? FunctionAppProperty(string path) =>
        path.Split('.').Aggregate(FunctionApp.Properties, (node, key) => node?[key]);
}

[CollectionDefinition(Name)]
public sealed class MainTemplateCollection : ICollectionFixture<MainTemplateFixture>
{
    public const string Name = "infra/main.bicep";
}

using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// host.json and local.settings.sample.json at the repository root (where DESIGN.md's "Running" expects them) are the
/// Functions app's own files, links to src/Serverless.Functions, never copies that could drift apart.
/// </summary>
public sealed class RootFilesTests
{
    [Theory]
    [InlineData("host.json")]
    [InlineData("local.settings.sample.json")]
    public void TheRootFile_IsALinkToTheFunctionsAppsOwn(string name)
    {
        var root = new FileInfo(Path.Combine(Repository.Root, name));
        var app = Path.Combine(Repository.FunctionsApp, name);

        Assert.True(root.Exists, $"{name} is missing at the repository root");
        Assert.Equal(Path.Combine("src", "Serverless.Functions", name), root.LinkTarget);
        Assert.Equal(File.ReadAllText(app), File.ReadAllText(root.FullName));
    }
}

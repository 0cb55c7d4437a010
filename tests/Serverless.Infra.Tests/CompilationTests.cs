using Serverless.Infra.Tests.Bicep;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed class CompilationTests(MainTemplateFixture fixture)
{
    [Fact]
    public void Build_OfMainBicep_Succeeds()
    {
        Assert.True(
            fixture.Build.ExitCode == 0,
            $"'{fixture.Build.Executable} build infra/main.bicep' exited with {fixture.Build.ExitCode}:\n{fixture.Build.StandardError}");
        Assert.StartsWith("{", fixture.Build.Json.TrimStart(), StringComparison.Ordinal);
    }

    // A warning is not noise here: BCP081 means a resource API version the compiler has no types for (so nothing
    // was checked), BCP037/BCP089 a property the resource does not have.
    [Fact]
    public void Build_OfMainBicep_ReportsNoErrorsOrWarnings()
    {
        var problems = fixture.Build.Diagnostics.Where(d => d.Level is "Error" or "Warning").ToList();
        Assert.True(problems.Count == 0, "The compiler reported:\n" + string.Join('\n', problems));
    }

    [Fact]
    public void Build_UsesTheCompilerVersionPinnedInDirectoryPackagesProps()
    {
        var pinned = Repository.PinnedVersion(BicepCompiler.PackageId);
        var generator = fixture.Template.Root.Template["metadata"]?["_generator"]?["version"]?.ToString();
        Assert.NotNull(generator);
        Assert.StartsWith(pinned + ".", generator, StringComparison.Ordinal);
    }
}

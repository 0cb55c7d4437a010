using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed class FunctionAppTests(MainTemplateFixture fixture)
{
    [Fact]
    public void FunctionApp_IsALinuxFunctionApp()
    {
        var kind = ArmScope.AsString(fixture.FunctionApp.Json["kind"]) ?? string.Empty;
        var parts = kind.Split(',', StringSplitOptions.TrimEntries);
        Assert.Contains("functionapp", parts);
        Assert.Contains("linux", parts);
    }

    [Fact]
    public void FunctionApp_RunsOnAFlexConsumptionPlan()
    {
        var plan = fixture.OnlyResource("Microsoft.Web/serverfarms");
        Assert.Equal("FC1", ArmScope.AsString(plan.Json["sku"]?["name"]));
        Assert.Equal("FlexConsumption", ArmScope.AsString(plan.Json["sku"]?["tier"]));
        Assert.True(plan.Properties?["reserved"]?.GetValue<bool>(), "A Linux plan has reserved: true.");
        Assert.Contains("Microsoft.Web/serverfarms", ArmScope.AsString(fixture.FunctionAppProperty("serverFarmId")), StringComparison.Ordinal);
        Assert.Same(plan.Scope, fixture.FunctionApp.Scope);
    }

    // Flex Consumption lists the .NET isolated stack as dotnet-isolated with versions "8.0", "9.0", "10.0"; the version
    // must be the .NET the app is built for, or the worker does not start.
    [Fact]
    public void FunctionApp_RunsTheIsolatedWorkerOnTheDotnetVersionTheAppTargets()
    {
        Assert.Equal("dotnet-isolated", ArmScope.AsString(fixture.FunctionAppProperty("functionAppConfig.runtime.name")));

        var targetFramework = Repository.TargetFramework();
        Assert.StartsWith("net", targetFramework, StringComparison.Ordinal);
        Assert.Equal(targetFramework["net".Length..], ArmScope.AsString(fixture.FunctionAppProperty("functionAppConfig.runtime.version")));
    }

    [Fact]
    public void FunctionApp_RunsAsTheUserAssignedIdentity()
    {
        var identity = fixture.FunctionApp.Json["identity"];
        Assert.Equal("UserAssigned", ArmScope.AsString(identity?["type"]));
        var key = Assert.Single(identity?["userAssignedIdentities"]?.AsObject() ?? []).Key;

        // The key names a module parameter; the template around the module fills it with the identity's id.
        var parameter = Assert.Single(ArmScope.ParameterReferences(key));
        var argument = ArmScope.AsString(fixture.FunctionApp.Scope.ArgumentOf(parameter));
        Assert.Contains("Microsoft.ManagedIdentity/userAssignedIdentities", argument, StringComparison.Ordinal);
        Assert.NotEmpty(fixture.Template.OfType("Microsoft.ManagedIdentity/userAssignedIdentities"));
    }

    [Fact]
    public void FunctionApp_FetchesItsDeploymentPackageWithTheIdentityNotAKey()
    {
        Assert.Equal("blobContainer", ArmScope.AsString(fixture.FunctionAppProperty("functionAppConfig.deployment.storage.type")));
        Assert.Equal(
            "UserAssignedIdentity",
            ArmScope.AsString(fixture.FunctionAppProperty("functionAppConfig.deployment.storage.authentication.type")));
        Assert.NotEmpty(fixture.Template.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"));
    }

    [Fact]
    public void FunctionApp_AcceptsOnlyHttpsWithTls12OrLater()
    {
        Assert.True(fixture.FunctionAppProperty("httpsOnly")?.GetValue<bool>());
        Assert.Equal("1.2", ArmScope.AsString(fixture.FunctionAppProperty("siteConfig.minTlsVersion")));
        Assert.Equal("Disabled", ArmScope.AsString(fixture.FunctionAppProperty("siteConfig.ftpsState")));
    }

    [Fact]
    public void Monitoring_IsWorkspaceBasedApplicationInsightsWiredIntoTheApp()
    {
        var insights = fixture.OnlyResource("Microsoft.Insights/components");
        Assert.Contains(
            "Microsoft.OperationalInsights/workspaces",
            ArmScope.AsString(insights.Properties?["WorkspaceResourceId"]),
            StringComparison.Ordinal);
        Assert.NotNull(fixture.Setting("APPLICATIONINSIGHTS_CONNECTION_STRING").Text);
    }

    [Fact]
    public void Outputs_NameTheAppItsHostNameAndTheStorageAccount()
    {
        var outputs = fixture.Template.Root.Template["outputs"]?.AsObject();
        Assert.NotNull(outputs);
        Assert.Contains("functionAppName", outputs.Select(o => o.Key));
        Assert.Contains("defaultHostName", outputs.Select(o => o.Key));
        Assert.Contains("storageAccountName", outputs.Select(o => o.Key));
    }
}

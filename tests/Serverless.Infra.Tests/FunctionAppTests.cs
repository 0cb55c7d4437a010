using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>The coordinator's function app and its plan, as a deployment with main.bicep's defaults would create them.</summary>
[Collection(MainTemplateCollection.Name)]
public sealed class FunctionAppTests(MainTemplateFixture fixture, DefaultDeploymentFixture deployment)
{
    private PredictedResource App => deployment.CoordinatorApp;

    [Fact]
    public void FunctionApp_IsALinuxFunctionApp()
    {
        var kind = ArmScope.AsString(App.Json["kind"]) ?? string.Empty;
        var parts = kind.Split(',', StringSplitOptions.TrimEntries);
        Assert.Contains("functionapp", parts);
        Assert.Contains("linux", parts);
    }

    [Fact]
    public void FunctionApp_RunsOnAFlexConsumptionPlan()
    {
        var plan = Assert.Single(deployment.Snapshot.OfType("Microsoft.Web/serverfarms"));
        Assert.Equal("FC1", ArmScope.AsString(plan.Json["sku"]?["name"]));
        Assert.Equal("FlexConsumption", ArmScope.AsString(plan.Json["sku"]?["tier"]));
        Assert.True(plan.Properties?["reserved"]?.GetValue<bool>(), "A Linux plan has reserved: true.");
        Assert.Equal(plan.Id, ArmScope.AsString(App.Property("serverFarmId")));
    }

    // Flex Consumption lists the .NET isolated stack as dotnet-isolated with versions "8.0", "9.0", "10.0"; the version
    // must be the .NET the app is built for, or the worker does not start.
    [Fact]
    public void FunctionApp_RunsTheIsolatedWorkerOnTheDotnetVersionTheAppTargets()
    {
        Assert.Equal("dotnet-isolated", ArmScope.AsString(App.Property("functionAppConfig.runtime.name")));

        var targetFramework = Repository.TargetFramework();
        Assert.StartsWith("net", targetFramework, StringComparison.Ordinal);
        Assert.Equal(targetFramework["net".Length..], ArmScope.AsString(App.Property("functionAppConfig.runtime.version")));
    }

    [Fact]
    public void FunctionApp_RunsAsTheUserAssignedIdentity()
    {
        Assert.Equal("UserAssigned", ArmScope.AsString(App.Json["identity"]?["type"]));
        var identity = Assert.Single(deployment.Snapshot.OfType(DeploymentSnapshot.IdentityType));
        Assert.Equal(identity.Id, DeploymentFixture.IdentityOf(App));
    }

    [Fact]
    public void FunctionApp_FetchesItsDeploymentPackageWithTheIdentityNotAKey()
    {
        Assert.Equal("blobContainer", ArmScope.AsString(App.Property("functionAppConfig.deployment.storage.type")));
        Assert.Equal("UserAssignedIdentity", ArmScope.AsString(App.Property("functionAppConfig.deployment.storage.authentication.type")));
        Assert.Equal(DeploymentFixture.IdentityOf(App), ArmScope.AsString(App.Property("functionAppConfig.deployment.storage.authentication.userAssignedIdentityResourceId")));
        var container = Assert.Single(deployment.Snapshot.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"));
        Assert.StartsWith(deployment.HostStorageOf(App).Id + "/", container.Id, StringComparison.Ordinal);
        Assert.Equal("app-package", container.Name.Split('/')[^1]);
    }

    [Fact]
    public void FunctionApp_AcceptsOnlyHttpsWithTls12OrLater()
    {
        Assert.True(App.Property("httpsOnly")?.GetValue<bool>());
        Assert.Equal("1.2", ArmScope.AsString(App.Property("siteConfig.minTlsVersion")));
        Assert.Equal("Disabled", ArmScope.AsString(App.Property("siteConfig.ftpsState")));
    }

    [Fact]
    public void Monitoring_IsWorkspaceBasedApplicationInsightsWiredIntoTheApp()
    {
        var insights = Assert.Single(deployment.Snapshot.OfType("Microsoft.Insights/components"));
        var workspace = Assert.Single(deployment.Snapshot.OfType("Microsoft.OperationalInsights/workspaces"));
        Assert.Equal(workspace.Id, ArmScope.AsString(insights.Properties?["WorkspaceResourceId"]));
        Assert.Equal(insights.Id, PredictedResource.ReferencedResourceId(App.AppSettings["APPLICATIONINSIGHTS_CONNECTION_STRING"]));
    }

    [Fact]
    public void Outputs_NameTheAppItsHostNameAndTheStorageAccount()
    {
        var outputs = fixture.Template.Root.Template["outputs"]?.AsObject();
        Assert.NotNull(outputs);
        Assert.Contains("functionAppName", outputs.Select(o => o.Key));
        Assert.Contains("defaultHostName", outputs.Select(o => o.Key));
        Assert.Contains("storageAccountName", outputs.Select(o => o.Key));
        Assert.Contains("externalParticipantApps", outputs.Select(o => o.Key));
    }
}

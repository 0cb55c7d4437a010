using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed class StorageTests(MainTemplateFixture fixture, DefaultDeploymentFixture deployment)
{
    private const string QueueType = "Microsoft.Storage/storageAccounts/queueServices/queues";
    private const string TableType = "Microsoft.Storage/storageAccounts/tableServices/tables";

    private ArmResource Account => fixture.OnlyResource("Microsoft.Storage/storageAccounts");

    private PredictedResource CoordinatorAccount => deployment.HostStorageOf(deployment.CoordinatorApp);

    // The role assignments on the storage account (Key Vault's own are checked by KeyVaultTests).
    private List<RoleAssignment> StorageAssignments => [.. deployment.Snapshot.RoleAssignments
        .Where(a => a.Scope.StartsWith(CoordinatorAccount.Id, StringComparison.Ordinal))];

    [Fact]
    public void StorageAccount_RefusesSharedKeyAccess()
    {
        var value = Account.Properties?["allowSharedKeyAccess"];
        Assert.True(value is not null && !value.GetValue<bool>(), "allowSharedKeyAccess must be the literal false.");
    }

    [Fact]
    public void StorageAccount_AcceptsOnlyHttpsWithTls12AndNoAnonymousBlobs()
    {
        Assert.Equal("TLS1_2", ArmScope.AsString(Account.Properties?["minimumTlsVersion"]));
        Assert.True(Account.Properties?["supportsHttpsTrafficOnly"]?.GetValue<bool>());
        Assert.False(Account.Properties?["allowBlobPublicAccess"]?.GetValue<bool>() ?? true);
    }

    [Fact]
    public void Storage_PreCreatesTheCoordinatorAndParticipantQueuesWithTheirPoisonQueues()
    {
        // DESIGN.md, "Queues, task hub and tables": one inbox per participant of the participants parameter (by default
        // the four sample participants of the app), the coordinator's inbox, and each one's poison queue.
        string[] inboxes = ["tx-coordinator", .. fixture.DefaultParticipants.Select(p => $"tx-participant-{p}")];
        var queues = deployment.Snapshot.OfType(QueueType).ToList();
        Assert.All(queues, q => Assert.StartsWith(CoordinatorAccount.Id + "/queueServices/default/queues/", q.Id, StringComparison.Ordinal));
        Assert.Equal(
            inboxes.Concat(inboxes.Select(q => q + "-poison")).Order(StringComparer.Ordinal),
            queues.Select(q => q.Name.Split('/')[^1]).Order(StringComparer.Ordinal));
    }

    // The participants' tables and the coordinator's decision records ({hub}Decisions for host.json's task hub). The
    // task hub's own tables are Durable's to create, and no table of the former custom engine remains.
    [Fact]
    public void Storage_PreCreatesTheTablesTheAppUses()
    {
        var tables = deployment.Snapshot.OfType(TableType).ToList();
        Assert.All(tables, t => Assert.StartsWith(CoordinatorAccount.Id + "/tableServices/default/tables/", t.Id, StringComparison.Ordinal));
        string[] expected = ["BankAccounts", "InventoryItems", Repository.TaskHubName() + "Decisions"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), tables.Select(t => t.Name.Split('/')[^1]).Order(StringComparer.Ordinal));
    }

    // Exactly the roles the Functions host, the Durable Task extension's Azure Storage provider, the queue and timer
    // triggers and the app need (infra/README.md, "Roles"), each scoped to the account alone and given to the app's
    // identity: each is there, and nothing else is granted.
    [Fact]
    public void RoleAssignments_GrantExactlyTheBlobQueueAndTableDataRoles_ToTheAppsIdentity_OnTheAccount()
    {
        var assignments = StorageAssignments;
        Assert.Equal(Roles.NarrowStorageDataRoles.Values.Order(StringComparer.Ordinal), assignments.Select(a => a.RoleId).Order(StringComparer.Ordinal));
        Assert.All(assignments, a =>
        {
            Assert.Equal(CoordinatorAccount.Id, a.Scope);
            Assert.Equal(DeploymentFixture.IdentityOf(deployment.CoordinatorApp), a.PrincipalIdentityId);
            Assert.Equal("ServicePrincipal", a.PrincipalType);
        });
    }

    [Fact]
    public void Template_GrantsNoBroadRole()
    {
        foreach (var (role, id) in Roles.Broad)
        {
            Assert.False(fixture.Template.Text.Contains(id, StringComparison.OrdinalIgnoreCase), $"The template mentions {role} ({id}).");
        }
    }

    [Fact]
    public void Template_ContainsNoStorageAccountKeyAnywhere()
    {
        var text = fixture.Template.Text;
        Assert.DoesNotContain("listKeys(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listAccountSas(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listServiceSas(", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("AccountKey=", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("DefaultEndpointsProtocol", text, StringComparison.OrdinalIgnoreCase);

        // AzureWebJobsStorage itself would be a connection string; only its identity-based __ parts may exist.
        Assert.DoesNotContain(deployment.CoordinatorApp.AppSettings.Keys, s => s.Equals("AzureWebJobsStorage", StringComparison.OrdinalIgnoreCase));
    }
}

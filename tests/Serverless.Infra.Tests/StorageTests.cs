using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed partial class StorageTests(MainTemplateFixture fixture)
{
    private const string QueueType = "Microsoft.Storage/storageAccounts/queueServices/queues";
    private const string TableType = "Microsoft.Storage/storageAccounts/tableServices/tables";
    private const string RoleAssignmentType = "Microsoft.Authorization/roleAssignments";

    private ArmResource Account => fixture.OnlyResource("Microsoft.Storage/storageAccounts");

    // The storage module's role assignments (Key Vault's own are checked by KeyVaultTests).
    private IEnumerable<ArmResource> StorageAssignments => fixture.Template.OfType(RoleAssignmentType)
        .Where(a => a.Scope.Template["resources"]?.ToJsonString().Contains("Microsoft.Storage/storageAccounts", StringComparison.Ordinal) == true);

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
        var (names, outer) = NamesPassedTo(Assert.Single(fixture.Template.OfType(QueueType)));
        var expression = Expand(outer, ArmScope.AsString(names) ?? string.Empty);

        // main.bicep derives the names from the participants parameter (DESIGN.md, "Queues, task hub and tables").
        Assert.Contains("'tx-coordinator'", expression, StringComparison.Ordinal);
        Assert.Contains("'tx-participant-{0}'", expression, StringComparison.Ordinal);
        Assert.Contains("parameters('participants')", expression, StringComparison.Ordinal);
        Assert.Contains("'{0}-poison'", expression, StringComparison.Ordinal);
    }

    // The participants' tables and the coordinator's decision records ({hub}Decisions for host.json's task hub). The
    // task hub's own tables are Durable's to create, and no table of the former custom engine remains.
    [Fact]
    public void Storage_PreCreatesTheTablesTheAppUses()
    {
        var (names, outer) = NamesPassedTo(Assert.Single(fixture.Template.OfType(TableType)));
        var variable = Assert.Single(ArmScope.VariableReferences(ArmScope.AsString(names) ?? string.Empty));
        var tables = outer.Variable(variable) as JsonArray;
        Assert.NotNull(tables);
        string[] expected = ["BankAccounts", "InventoryItems", Repository.TaskHubName() + "Decisions"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), tables.Select(t => ArmScope.AsString(t)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void RoleAssignments_AreScopedToTheStorageAccountAsServicePrincipalAssignments()
    {
        var assignments = StorageAssignments.ToList();
        Assert.NotEmpty(assignments);
        Assert.All(assignments, a =>
        {
            Assert.Contains("Microsoft.Storage/storageAccounts", ArmScope.AsString(a.Json["scope"]), StringComparison.Ordinal);
            Assert.Contains("Microsoft.Authorization/roleDefinitions", ArmScope.AsString(a.Properties?["roleDefinitionId"]), StringComparison.Ordinal);
            Assert.Equal("ServicePrincipal", ArmScope.AsString(a.Properties?["principalType"]));
        });
    }

    // Exactly the roles the Functions host, the Durable Task extension's Azure Storage provider, the queue and timer
    // triggers and the app need (infra/README.md, "Roles"): each is there, and nothing else is granted.
    [Fact]
    public void RoleAssignments_GrantExactlyTheBlobQueueAndTableDataRoles()
    {
        var granted = StorageAssignments.SelectMany(GrantedRoleIds).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (var (role, id) in Roles.NarrowStorageDataRoles)
        {
            Assert.True(granted.Contains(id), $"No role assignment grants {role} ({id}).");
        }

        var extra = granted.Except(Roles.NarrowStorageDataRoles.Values, StringComparer.OrdinalIgnoreCase).ToList();
        Assert.True(extra.Count == 0, $"Role assignments grant roles beyond the three data roles: {string.Join(", ", extra)}.");
    }

    [Fact]
    public void RoleAssignments_GoToTheAppsIdentity()
    {
        var assignment = StorageAssignments.First();
        var principal = ArmScope.ParameterReference(assignment.Properties?["principalId"]);
        Assert.NotNull(principal);
        var argument = ArmScope.AsString(assignment.Scope.ArgumentOf(principal));
        Assert.Contains("identity", argument, StringComparison.Ordinal);
        Assert.Contains("principalId", argument, StringComparison.Ordinal);
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
        Assert.DoesNotContain(fixture.AppSettings, s => s.Name.Equals("AzureWebJobsStorage", StringComparison.OrdinalIgnoreCase));
    }

    // The role definition ids one assignment grants: the literal id in its roleDefinitionId, or, for a copy loop over
    // a variable (variables('roles')[copyIndex()].id), the id of every element of that variable.
    private static IEnumerable<string> GrantedRoleIds(ArmResource assignment)
    {
        var expression = ArmScope.AsString(assignment.Properties?["roleDefinitionId"]) ?? string.Empty;
        var literal = RoleId().Matches(expression).Select(m => m.Value).ToList();
        if (literal.Count > 0)
        {
            return literal;
        }

        var variable = Assert.Single(ArmScope.VariableReferences(expression));
        var elements = assignment.Scope.Variable(variable) as JsonArray;
        Assert.True(elements is not null, $"roleDefinitionId '{expression}' names variable '{variable}', which is not a literal array.");
        return elements.Select(e => ArmScope.AsString(e?["id"]) ?? string.Empty);
    }

    [GeneratedRegex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", RegexOptions.IgnoreCase)]
    private static partial Regex RoleId();

    // A copy loop over a module parameter creates whatever the template around the module passes for it.
    private static (JsonNode? Names, ArmScope Outer) NamesPassedTo(ArmResource loop)
    {
        var count = ArmScope.AsString(loop.Json["copy"]?["count"]) ?? string.Empty;
        var parameter = Assert.Single(ArmScope.ParameterReferences(count));
        Assert.NotNull(loop.Scope.Parent);
        return (loop.Scope.ArgumentOf(parameter), loop.Scope.Parent);
    }

    // An expression with the definitions of the variables it uses (and that they use) appended.
    private static string Expand(ArmScope scope, string expression) =>
        expression + string.Concat(ArmScope.VariableReferences(expression).Select(v =>
            scope.Variable(v) is { } definition && ArmScope.AsString(definition) is { } text ? Expand(scope, text) : string.Empty));
}

using Serverless.Infra.Tests.Arm;
using Xunit;

namespace Serverless.Infra.Tests;

[Collection(MainTemplateCollection.Name)]
public sealed class StorageTests(MainTemplateFixture fixture)
{
    private const string QueueType = "Microsoft.Storage/storageAccounts/queueServices/queues";
    private const string TableType = "Microsoft.Storage/storageAccounts/tableServices/tables";

    private ArmResource Account => fixture.OnlyResource("Microsoft.Storage/storageAccounts");

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
        var queues = Assert.Single(fixture.Template.OfType(QueueType));
        var names = NamesPassedTo(queues);

        // main.bicep derives the names from the participants parameter (DESIGN.md, "Queues and tables").
        Assert.Contains("'tx-coordinator'", names, StringComparison.Ordinal);
        Assert.Contains("'tx-participant-{0}'", names, StringComparison.Ordinal);
        Assert.Contains("parameters('participants')", names, StringComparison.Ordinal);
        Assert.Contains("'{0}-poison'", names, StringComparison.Ordinal);
    }

    [Fact]
    public void Storage_PreCreatesTheTablesTheAppUses()
    {
        var tables = Assert.Single(fixture.Template.OfType(TableType));
        Assert.Contains("'Transactions'", NamesPassedTo(tables), StringComparison.Ordinal);
        Assert.Contains("'BankAccounts'", NamesPassedTo(tables), StringComparison.Ordinal);
        Assert.Contains("'InventoryItems'", NamesPassedTo(tables), StringComparison.Ordinal);
    }

    [Fact]
    public void RoleAssignments_GrantTheThreeStorageDataRolesOnTheStorageAccountOnly()
    {
        var assignments = fixture.Template.OfType("Microsoft.Authorization/roleAssignments").ToList();
        Assert.NotEmpty(assignments);
        Assert.All(assignments, a =>
        {
            Assert.Contains("Microsoft.Storage/storageAccounts", ArmScope.AsString(a.Json["scope"]), StringComparison.Ordinal);
            Assert.Contains("Microsoft.Authorization/roleDefinitions", ArmScope.AsString(a.Properties?["roleDefinitionId"]), StringComparison.Ordinal);
            Assert.Equal("ServicePrincipal", ArmScope.AsString(a.Properties?["principalType"]));
        });

        var declaringText = string.Concat(assignments.Select(a => a.Scope.Text).Distinct());
        foreach (var (role, id) in Roles.NarrowStorageDataRoles)
        {
            Assert.True(declaringText.Contains(id, StringComparison.OrdinalIgnoreCase), $"No role assignment grants {role} ({id}).");
        }
    }

    [Fact]
    public void RoleAssignments_GoToTheAppsIdentity()
    {
        var assignment = fixture.Template.OfType("Microsoft.Authorization/roleAssignments").First();
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

    // The names of a copy loop over a module parameter are whatever the template around the module passes for it;
    // when that is a variable, its definition.
    private static string NamesPassedTo(ArmResource loop)
    {
        var count = ArmScope.AsString(loop.Json["copy"]?["count"]) ?? string.Empty;
        var parameter = Assert.Single(ArmScope.ParameterReferences(count));
        var argument = ArmScope.AsString(loop.Scope.ArgumentOf(parameter)) ?? string.Empty;
        var outer = loop.Scope.Parent ?? loop.Scope;
        return argument + string.Concat(ArmScope.VariableReferences(argument).SelectMany(v => Definitions(outer, v)));
    }

    // A variable's definition, with the definitions of the variables it uses in turn.
    private static IEnumerable<string> Definitions(ArmScope scope, string variable)
    {
        var text = scope.Variable(variable)?.ToJsonString() ?? string.Empty;
        yield return text;
        foreach (var used in ArmScope.VariableReferences(text).Where(u => u != variable))
        {
            foreach (var definition in Definitions(scope, used))
            {
                yield return definition;
            }
        }
    }
}

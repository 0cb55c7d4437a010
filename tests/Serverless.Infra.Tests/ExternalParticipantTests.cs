using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>
/// An external participant (another team's function app, here shipping): what its identity may do on the
/// coordinator's storage (three queue roles on its three queues, nothing wider), its own key in Key Vault that only it
/// and the coordinator read, the settings of both apps, and main.bicep's refusal of names it cannot deploy.
/// </summary>
[Collection(MainTemplateCollection.Name)]
public sealed class ExternalParticipantTests(
    MainTemplateFixture template,
    ExternalParticipantDeploymentFixture deployment,
    DefaultDeploymentFixture withoutParticipants,
    SampleDeploymentFixture sample)
{
    private const string Participant = ExternalParticipantDeploymentFixture.Participant;
    private const string QueueType = "Microsoft.Storage/storageAccounts/queueServices/queues";

    private DeploymentSnapshot Snapshot => deployment.Snapshot;

    private PredictedResource ParticipantApp => deployment.ParticipantApp;

    private string ParticipantIdentity => DeploymentFixture.IdentityOf(ParticipantApp);

    private string CoordinatorIdentity => DeploymentFixture.IdentityOf(deployment.CoordinatorApp);

    private PredictedResource CoordinatorAccount => deployment.HostStorageOf(deployment.CoordinatorApp);

    private PredictedResource Secret => Snapshot.Named(KeyVaultTests.SecretType, $"participant-{Participant}-signing-key");

    private string QueueId(string queue) => Snapshot.Named(QueueType, queue).Id;

    [Fact]
    public void ParticipantIdentity_OnTheCoordinatorsStorage_HoldsExactlyTheThreeQueueRoles_EachOnOneOfItsQueues()
    {
        (string Role, string Scope)[] expected =
        [
            (Roles.Queue.DataReader, QueueId($"tx-participant-{Participant}")),
            (Roles.Queue.MessageProcessor, QueueId($"tx-participant-{Participant}")),
            (Roles.Queue.MessageSender, QueueId("tx-coordinator")),
            (Roles.Queue.MessageSender, QueueId($"tx-participant-{Participant}-poison")),
        ];
        var granted = Snapshot.RoleAssignments
            .Where(a => a.PrincipalIdentityId == ParticipantIdentity && a.Scope.StartsWith(CoordinatorAccount.Id, StringComparison.Ordinal))
            .ToList();

        Assert.Equal(expected.Order(), granted.Select(a => (a.RoleId, a.Scope)).Order());
        Assert.All(granted, a => Assert.Equal("ServicePrincipal", a.PrincipalType));
    }

    // Everything the participant's identity is granted anywhere: the queue roles above, its key, and its own host storage.
    // Nothing on the coordinator's account, its queue service, the vault, the resource group or the subscription.
    [Fact]
    public void ParticipantIdentity_IsGrantedNothingBeyondItsQueuesItsKeyAndItsOwnStorage()
    {
        var ownAccount = deployment.HostStorageOf(ParticipantApp).Id;
        Assert.NotEqual(CoordinatorAccount.Id, ownAccount);
        var granted = Snapshot.RoleAssignments.Where(a => a.PrincipalIdentityId == ParticipantIdentity).ToList();

        string[] queues = [$"tx-participant-{Participant}", $"tx-participant-{Participant}-poison", "tx-coordinator"];
        string[] allowedScopes = [.. queues.Select(QueueId), Secret.Id, ownAccount];
        Assert.All(granted, a => Assert.Contains(a.Scope, allowedScopes));
        string[] broader =
        [
            CoordinatorAccount.Id,
            CoordinatorAccount.Id + "/queueServices/default",
            Snapshot.OfType("Microsoft.KeyVault/vaults").Single().Id,
            BicepSnapshot.ResourceGroupId,
            $"/subscriptions/{BicepSnapshot.SubscriptionId}",
        ];
        Assert.DoesNotContain(granted, a => broader.Contains(a.Scope));

        // Its own account: what a Functions host needs (keys, timer locks, the package; diagnostic events), no queue role.
        Assert.Equal(
            new[] { Roles.NarrowStorageDataRoles["Storage Blob Data Owner"], Roles.NarrowStorageDataRoles["Storage Table Data Contributor"] }.Order(),
            granted.Where(a => a.Scope == ownAccount).Select(a => a.RoleId).Order());
        Assert.Equal([KeyVaultTests.SecretsUser], granted.Where(a => a.Scope == Secret.Id).Select(a => a.RoleId));
    }

    [Fact]
    public void SigningKey_IsASecretFromItsSecureParameter_ThatOnlyTheParticipantAndTheCoordinatorMayRead()
    {
        Assert.Equal(TestParameters.ShippingSigningKey, ArmScope.AsString(Secret.Properties?["value"]));

        // Read access to a secret is granted on the secret, the vault, the resource group or the subscription: in this
        // deployment only on the secret, as Key Vault Secrets User, to the two apps' identities.
        var vault = Snapshot.OfType("Microsoft.KeyVault/vaults").Single().Id;
        var readers = Snapshot.RoleAssignments
            .Where(a => a.Scope == Secret.Id || a.Scope == vault || a.Scope == BicepSnapshot.ResourceGroupId)
            .ToList();
        Assert.Equal(2, readers.Count);
        Assert.All(readers, a =>
        {
            Assert.Equal(Secret.Id, a.Scope);
            Assert.Equal(KeyVaultTests.SecretsUser, a.RoleId);
            Assert.Equal("ServicePrincipal", a.PrincipalType);
        });
        Assert.Equal(new[] { ParticipantIdentity, CoordinatorIdentity }.Order(), readers.Select(a => a.PrincipalIdentityId).Order());
    }

    [Fact]
    public void BothApps_ReadTheKeyThroughKeyVaultReferences_ResolvedWithTheirOwnIdentities()
    {
        foreach (var app in new[] { ParticipantApp, deployment.CoordinatorApp })
        {
            KeyVaultReference.AssertPointsTo(app.AppSettings["PARTICIPANT_SHIPPING_SIGNING_KEY"], Secret);
            Assert.Equal(DeploymentFixture.IdentityOf(app), ArmScope.AsString(app.Property("keyVaultReferenceIdentity")));
        }

        // The key is in its secret and nowhere else.
        Assert.Single(Snapshot.Resources, r => r.Json.ToJsonString().Contains(TestParameters.ShippingSigningKey, StringComparison.Ordinal));
    }

    [Fact]
    public void ParticipantApp_ReachesTheCoordinatorsQueuesThroughCOORDINATOR_STORAGE_WithItsIdentity()
    {
        var settings = ParticipantApp.AppSettings;
        Assert.Equal(
            $"[string(reference('{CoordinatorAccount.Id}', '2025-01-01').primaryEndpoints.queue)]",
            settings["COORDINATOR_STORAGE__queueServiceUri"]);
        Assert.Equal("managedidentity", settings["COORDINATOR_STORAGE__credential"]);
        Assert.Equal(ParticipantIdentity, PredictedResource.ReferencedResourceId(settings["COORDINATOR_STORAGE__clientId"]));
        Assert.EndsWith(".clientId)]", settings["COORDINATOR_STORAGE__clientId"], StringComparison.Ordinal);

        // Queues only: no other service of the coordinator's account is named.
        Assert.Equal(
            ["COORDINATOR_STORAGE__clientId", "COORDINATOR_STORAGE__credential", "COORDINATOR_STORAGE__queueServiceUri"],
            settings.Keys.Where(k => k.StartsWith("COORDINATOR_STORAGE", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void ParticipantApp_IsAFlexConsumptionIsolatedWorkerApp_WithItsOwnIdentityPlanAndHostStorage()
    {
        var app = ParticipantApp;
        Assert.Equal("functionapp,linux", ArmScope.AsString(app.Json["kind"]));
        Assert.Equal("dotnet-isolated", ArmScope.AsString(app.Property("functionAppConfig.runtime.name")));
        Assert.Equal(Repository.TargetFramework()["net".Length..], ArmScope.AsString(app.Property("functionAppConfig.runtime.version")));

        var plan = Snapshot.OfType("Microsoft.Web/serverfarms").Single(p => p.Id == ArmScope.AsString(app.Property("serverFarmId")));
        Assert.Equal("FC1", ArmScope.AsString(plan.Json["sku"]?["name"]));
        Assert.NotEqual(ArmScope.AsString(deployment.CoordinatorApp.Property("serverFarmId")), plan.Id);

        Assert.NotEqual(CoordinatorIdentity, ParticipantIdentity);
        var hostStorage = deployment.HostStorageOf(app);
        Assert.NotEqual(CoordinatorAccount.Id, hostStorage.Id);
        Assert.False(hostStorage.Properties?["allowSharedKeyAccess"]?.GetValue<bool>() ?? true);
        Assert.Equal("managedidentity", app.AppSettings["AzureWebJobsStorage__credential"]);
        Assert.Equal(ParticipantIdentity, PredictedResource.ReferencedResourceId(app.AppSettings["AzureWebJobsStorage__clientId"]));
        Assert.StartsWith(
            $"[format('{{0}}{{1}}', reference('{hostStorage.Id}'",
            ArmScope.AsString(app.Property("functionAppConfig.deployment.storage.value")),
            StringComparison.Ordinal);
        Assert.Equal(ParticipantIdentity, ArmScope.AsString(app.Property("functionAppConfig.deployment.storage.authentication.userAssignedIdentityResourceId")));
        Assert.True(app.Property("httpsOnly")?.GetValue<bool>());
    }

    [Fact]
    public void ShippingApp_GetsItsDatabaseConnection_AndTheCoordinatorDoesNot()
    {
        Assert.Equal(TestParameters.ShippingPostgresConnection, ParticipantApp.AppSettings["SHIPPING_POSTGRES_CONNECTION"]);
        Assert.DoesNotContain("SHIPPING_POSTGRES_CONNECTION", deployment.CoordinatorApp.AppSettings.Keys);
    }

    [Fact]
    public void CoordinatorApp_KnowsTheParticipant_AfterItsOwn()
    {
        var ownParticipants = string.Join(',', template.DefaultParticipants);
        Assert.Equal($"{ownParticipants},{Participant}", deployment.CoordinatorApp.AppSettings["TRANSACTIONS_PARTICIPANTS"]);
    }

    // PARTICIPANT_{NAME}_KINDS only when the entry gives kinds: without it the app takes its default (2pc and tcc). A
    // participant reached through its queue has no PARTICIPANT_{NAME}_URL, which would send its commands over HTTP.
    [Fact]
    public void CoordinatorApp_GetsTheParticipantsKinds_OnlyWhenGiven_AndNoUrl()
    {
        Assert.Equal("2pc", sample.CoordinatorApp.AppSettings["PARTICIPANT_SHIPPING_KINDS"]);
        Assert.DoesNotContain("PARTICIPANT_SHIPPING_KINDS", deployment.CoordinatorApp.AppSettings.Keys);
        Assert.DoesNotContain("PARTICIPANT_SHIPPING_URL", deployment.CoordinatorApp.AppSettings.Keys);
        Assert.DoesNotContain("PARTICIPANT_SHIPPING_URL", sample.CoordinatorApp.AppSettings.Keys);

        // The kinds are the coordinator's to know; the participant's app does not read them.
        Assert.DoesNotContain(sample.ShippingApp.AppSettings.Keys, k => k.EndsWith("_KINDS", StringComparison.Ordinal));
    }

    // Module deployments share one namespace per resource group. A participant's own deployments are named
    // participant-{name} and participant-{name}.{part}: a dot, which no participant name has, so that participants
    // 'shipping' and 'shipping-app' never name the same deployment (participant-shipping-app would be both).
    [Fact]
    public void Deployments_OfAParticipant_HaveNamesNoOtherParticipantCanTake()
    {
        var names = template.Template.OfType(ArmTemplate.DeploymentType).Select(d => ArmScope.AsString(d.Json["name"]) ?? string.Empty).ToList();

        var ofParticipants = names.Where(n => n.Contains("participant-{0}", StringComparison.Ordinal)).ToList();
        Assert.True(ofParticipants.Count >= 5, "Expected the deployments of participant-app.bicep and its modules, and of participant-key.bicep: " + string.Join(", ", names));
        Assert.All(ofParticipants, n => Assert.Matches(@"^\[format\('participant-\{0\}(\.[a-z]+)?', ", n));
    }

    [Fact]
    public void Queues_OfTheParticipant_AreCreatedInTheCoordinatorsAccount()
    {
        foreach (var queue in new[] { $"tx-participant-{Participant}", $"tx-participant-{Participant}-poison", "tx-coordinator" })
        {
            Assert.StartsWith(CoordinatorAccount.Id + "/queueServices/default/queues/", QueueId(queue), StringComparison.Ordinal);
        }
    }

    // The same deployment without externalParticipants is the coordinator alone, as before them.
    [Fact]
    public void WithoutExternalParticipants_NothingOfTheirsIsDeployed()
    {
        var snapshot = withoutParticipants.Snapshot;
        Assert.Single(snapshot.OfType(DeploymentSnapshot.SiteType));
        Assert.Single(snapshot.OfType("Microsoft.Web/serverfarms"));
        Assert.Single(snapshot.OfType(DeploymentSnapshot.IdentityType));
        Assert.Single(snapshot.OfType("Microsoft.Storage/storageAccounts"));
        Assert.Equal(["transactions-signing-key"], snapshot.OfType(KeyVaultTests.SecretType).Select(s => s.Name.Split('/')[^1]));
        string[] roles = [.. Roles.NarrowStorageDataRoles.Values, KeyVaultTests.SecretsUser];
        Assert.Equal(roles.Order(), snapshot.RoleAssignments.Select(a => a.RoleId).Order());
        Assert.DoesNotContain(snapshot.OfType(QueueType), q => q.Name.Contains(Participant, StringComparison.Ordinal));
        Assert.DoesNotContain(withoutParticipants.CoordinatorApp.AppSettings.Keys, k => k.StartsWith("PARTICIPANT_", StringComparison.Ordinal));

        // Everything else the two deployments share is the same.
        var withParticipant = Snapshot.Resources.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        Assert.All(snapshot.Resources, r => Assert.Contains(r.Id, withParticipant));
    }
}

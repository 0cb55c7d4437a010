using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Management;

/// <summary>
/// The Durable management API's tests on the local host running the coordinator app: one host (and its Azurite) for all of
/// them, each test with its own transactions.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ManagementHostCollection : ICollectionFixture<HostFixture>
{
    public const string Name = "durable-management";
}

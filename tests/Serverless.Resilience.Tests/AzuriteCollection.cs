using Serverless.Testing;

namespace Serverless.Resilience.Tests;

/// <summary>One Azurite (in memory, free ports) shared by the tests of this collection; each test uses its own names.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "resilience-azurite";
}

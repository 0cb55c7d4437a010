using Serverless.Testing;

namespace Serverless.Functions.Tests;

/// <summary>One Azurite (in-memory, free ports) shared by the tests of this collection; each test uses its own names.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "azurite";
}

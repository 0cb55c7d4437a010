using Serverless.Testing;

namespace Serverless.Crash.Tests;

/// <summary>The ledger's crash tests, on the run's MariaDB; each class in its own database.</summary>
/// <remarks>Here and not beside <see cref="MariaDbServer"/>: xUnit looks for collection definitions in the test assembly only.</remarks>
[CollectionDefinition(Name)]
public sealed class MariaDbCollection : ICollectionFixture<MariaDbServer>
{
    public const string Name = "mariadb";
}

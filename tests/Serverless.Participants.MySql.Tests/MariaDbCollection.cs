using Serverless.Testing;

namespace Serverless.Participants.MySql.Tests;

/// <summary>The tests that need the server; they run one class at a time, each class in its own database.</summary>
/// <remarks>Here and not beside <see cref="MariaDbServer"/>: xUnit looks for collection definitions in the test assembly only.</remarks>
[CollectionDefinition(Name)]
public sealed class MariaDbCollection : ICollectionFixture<MariaDbServer>
{
    public const string Name = "mariadb";
}

using Serverless.Testing;

namespace Serverless.Participants.Postgres.Tests;

/// <summary>The tests that need the server; they run one class at a time, each class in its own database.</summary>
/// <remarks>Here and not beside <see cref="PostgresServer"/>: xUnit looks for collection definitions in the test assembly only.</remarks>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}

namespace Serverless.Participants.Postgres;

/// <summary>Settings of a <see cref="PostgresResourceManager"/>.</summary>
public sealed record PostgresParticipantOptions
{
    /// <summary>
    /// How long a prepare waits for a row lock before voting No. Default 2 seconds. Rows written by a prepared
    /// transaction stay locked until its decision arrives, so waiting for them must be bounded. Must be positive.
    /// </summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

namespace Serverless.Participants.MySql;

/// <summary>Settings of a <see cref="MySqlResourceManager"/>.</summary>
public sealed record MySqlParticipantOptions
{
    /// <summary>
    /// How long a prepare waits for a row lock before voting No (the session's <c>innodb_lock_wait_timeout</c>, which
    /// counts whole seconds: rounded up). Default 2 seconds. Rows changed by a prepared XA transaction stay locked until
    /// its decision arrives, so waiting for them must be bounded. From 1 second to 1 hour.
    /// </summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(2);
}

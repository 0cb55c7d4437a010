namespace Serverless.Core.Participants;

/// <summary>A resource manager that must create its storage (tables, schema) before its first command.</summary>
public interface IRequiresInitialization
{
    /// <summary>Creates what is missing; safe to call at every start.</summary>
    Task EnsureCreatedAsync(CancellationToken cancellationToken = default);
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Core.Participants;

namespace Serverless.ParticipantKit;

/// <summary>
/// Creates what the app's resource managers need (tables, schemas; <see cref="IRequiresInitialization"/>) in the background at
/// start, retrying until their storage answers, so that the first command does not meet a missing table.
/// </summary>
public sealed class ParticipantInitializer(ParticipantResourceManagers resourceManagers, ILogger<ParticipantInitializer> logger) : BackgroundService
{
    /// <summary>Done once every resource manager is initialized.</summary>
    public Task Initialized => _initialized.Task;

    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var (participant, resourceManager) in resourceManagers.All())
        {
            if (resourceManager is not IRequiresInitialization initialized)
            {
                continue;
            }

            for (var delay = TimeSpan.FromSeconds(1); ; delay = TimeSpan.FromSeconds(Math.Min(30, delay.TotalSeconds * 2)))
            {
                try
                {
                    await initialized.EnsureCreatedAsync(stoppingToken);
                    break;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.InitializationFailed(participant, ex.Message, delay.TotalSeconds);
                    await Task.Delay(delay, stoppingToken);
                }
            }
        }

        _initialized.TrySetResult();
    }
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serverless.Core.Participants;
using Serverless.Functions.Coordination;
using Serverless.ParticipantKit;

namespace Serverless.Functions.Hosting;

/// <summary>
/// Creates the decision table and the participants' tables and schemas in the background, retrying until storage answers,
/// so that the app starts (and reports itself unhealthy) while storage is down. Health answers 503 until it is done: the
/// participants' tables are not created on first use, so a route used before would fail on a missing table.
/// </summary>
public sealed class StorageInitializer(DecisionStore decisions, ParticipantResourceManagers participants, ILogger<StorageInitializer> logger) : BackgroundService
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once every table and schema exists.</summary>
    public Task Ready => _ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await decisions.CreateIfNotExistsAsync(stoppingToken);
                var created = new List<string> { decisions.Table.Name };
                foreach (var (name, resourceManager) in participants.All())
                {
                    if (resourceManager is IRequiresInitialization initialization)
                    {
                        await initialization.EnsureCreatedAsync(stoppingToken);
                        created.Add(name);
                    }
                }

                logger.StorageReady(string.Join(", ", created));
                _ready.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.StorageUnavailable(ex.Message);
                await Task.Delay(delay, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }
}

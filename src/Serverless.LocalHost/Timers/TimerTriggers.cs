using Microsoft.Azure.Functions.Worker;
using Serverless.LocalHost.Catalog;
using Serverless.LocalHost.Invocation;

namespace Serverless.LocalHost.Timers;

/// <summary>Runs each timer-triggered function on its schedule (one run at a time per function; a run that overran is not made up).</summary>
public sealed class TimerTriggers(
    IReadOnlyList<LocalFunction> functions,
    IConfiguration configuration,
    FunctionInvoker invoker,
    IServiceProvider services,
    TimeProvider time,
    ILogger<TimerTriggers> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(functions.Where(f => f.Trigger == TriggerKind.Timer).Select(f =>
            RunAsync(f, CronSchedule.Parse(BindingExpressions.Resolve(f.Target!, configuration, f.Name)), stoppingToken)));

    private async Task RunAsync(LocalFunction function, CronSchedule schedule, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var next = schedule.Next(time.GetUtcNow());
            logger.TimerScheduled(function.Name, next);
            var wait = next - time.GetUtcNow();
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            try
            {
                await using var scope = services.CreateAsyncScope();
                await invoker.InvokeAsync(function, new TimerInfo(), stoppingToken, scope: scope.ServiceProvider);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.FunctionFailed(ex, function.Name);
            }
        }
    }
}

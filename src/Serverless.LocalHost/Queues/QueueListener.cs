using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Serverless.Functions.Storage;

namespace Serverless.LocalHost.Queues;

/// <summary>
/// A queue trigger with Azure Functions' semantics (host.json <c>extensions.queues</c>): fetches batches, runs the function
/// on each message in parallel, deletes a message only after the function returned (I5), makes a failed message visible
/// again after <c>visibilityTimeout</c>, and moves it to <c>{queue}-poison</c> after <c>maxDequeueCount</c> deliveries.
/// </summary>
public sealed class QueueListener(
    string queue,
    Func<string, CancellationToken, Task> function,
    QueueTransport transport,
    QueueListenerOptions options,
    ILogger<QueueListener> logger)
{
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _inFlight;
    private bool _throttled;

    public string Queue => queue;

    /// <summary>Makes an idle listener poll now (a message was just sent to its queue by this process).</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var batchSize = options.EffectiveBatchSize;
        var threshold = options.EffectiveNewBatchThreshold;
        logger.ListenerStarted(queue, batchSize, threshold, options.MaxPollingInterval);
        var delay = options.MinPollingInterval;
        var running = new HashSet<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (Volatile.Read(ref _inFlight) > threshold)
                {
                    // Throttled: a finishing message wakes the loop (see below), the interval is the fallback.
                    Volatile.Write(ref _throttled, true);
                    await WaitAsync(options.MinPollingInterval, stoppingToken);
                    Volatile.Write(ref _throttled, false);
                    continue;
                }

                var messages = await transport.ReceiveAsync(queue, batchSize, options.MessageLease, stoppingToken);
                if (messages.Length == 0)
                {
                    await WaitAsync(delay, stoppingToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, Math.Max(options.MaxPollingInterval.Ticks, options.MinPollingInterval.Ticks)));
                    continue;
                }

                delay = options.MinPollingInterval;
                foreach (var message in messages)
                {
                    Interlocked.Increment(ref _inFlight);
                    var task = Task.Run(() => ProcessAsync(message, stoppingToken), CancellationToken.None);
                    lock (running)
                    {
                        running.Add(task);
                    }

                    _ = task.ContinueWith(t =>
                    {
                        Interlocked.Decrement(ref _inFlight);
                        lock (running)
                        {
                            running.Remove(t);
                        }

                        if (Volatile.Read(ref _throttled))
                        {
                            Wake();
                        }
                    }, TaskScheduler.Default);
                }

                if (messages.Length < batchSize)
                {
                    // The queue had no more: poll again after the interval, or at once when this process sends to it.
                    await WaitAsync(options.MinPollingInterval, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LogFailure(ex);
                await WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }

        Task[] remaining;
        lock (running)
        {
            remaining = [.. running];
        }

        await Task.WhenAll(remaining).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Runs the function on one received message, then deletes it, makes it visible again, or poisons it.</summary>
    public async Task ProcessAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        try
        {
            if (message.DequeueCount > options.MaxDequeueCount)
            {
                logger.MessagePoisoned(queue, message.MessageId, message.DequeueCount);
                await transport.PoisonAsync(queue, message, cancellationToken);
                return;
            }

            try
            {
                await function(message.Body.ToString(), cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (StorageErrors.IsUnreachable(ex))
                {
                    logger.MessageFailedStorageUnreachable(queue, message.MessageId, message.DequeueCount, StorageErrors.Describe(ex));
                }
                else
                {
                    logger.MessageFailed(ex, queue, message.MessageId, message.DequeueCount);
                }

                if (message.DequeueCount >= options.MaxDequeueCount)
                {
                    logger.MessagePoisoned(queue, message.MessageId, message.DequeueCount);
                    await transport.PoisonAsync(queue, message, cancellationToken);
                }
                else
                {
                    await transport.ReleaseAsync(queue, message.MessageId, message.PopReceipt, options.VisibilityTimeout, cancellationToken);
                }

                return;
            }

            await transport.DeleteAsync(queue, message.MessageId, message.PopReceipt, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The message reappears when its lease ends; the functions are idempotent.
            LogFailure(ex);
        }
    }

    /// <summary>An outage is one line per attempt, anything else a full error.</summary>
    private void LogFailure(Exception exception)
    {
        if (StorageErrors.IsUnreachable(exception))
        {
            logger.StorageUnreachable(queue, StorageErrors.Describe(exception));
        }
        else
        {
            logger.ListenerError(exception, queue);
        }
    }

    private async Task WaitAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await _wake.WaitAsync(delay, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}

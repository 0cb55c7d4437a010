using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging;
using Serverless.Core.Messaging;
using Serverless.Core.Participants;
using Serverless.Runtime.Coordination;
using Serverless.Runtime.Storage;

namespace Serverless.Runtime.Messaging;

/// <summary>
/// A queue trigger with Azure Functions' semantics: fetches batches, processes them in parallel, deletes a
/// message only after its handler returned (I5), retries a failure after <c>visibilityTimeout</c>, and moves
/// a message to <c>{queue}-poison</c> after <c>maxDequeueCount</c> deliveries. A message that cannot be
/// decoded or verified, or that the protocol forbids acting on, is poisoned at once and never acted on.
/// </summary>
public sealed class QueueListener(
    string queue,
    Func<ProtocolMessage, CancellationToken, Task> handler,
    QueueTransport transport,
    MessageCodec codec,
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

    /// <summary>Processes one received message: decode, verify, handle, then delete (or retry, or poison).</summary>
    public async Task ProcessAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var outcome = await HandleAsync(message.Body.ToString(), message.MessageId, message.DequeueCount, cancellationToken);
        try
        {
            switch (outcome.Disposition)
            {
                case Disposition.Done:
                    await transport.DeleteAsync(queue, message.MessageId, message.PopReceipt, cancellationToken);
                    break;
                case Disposition.Poison:
                    logger.MessagePoisoned(queue, message.MessageId, message.DequeueCount, outcome.Reason!);
                    await transport.PoisonAsync(queue, message, cancellationToken);
                    break;
                case Disposition.Retry:
                    await transport.ReleaseAsync(queue, message.MessageId, message.PopReceipt, options.VisibilityTimeout, cancellationToken);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The message reappears when its lease ends; its effects are idempotent.
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

    /// <summary>What became of a message.</summary>
    public enum Disposition
    {
        Done,
        Retry,
        Poison,
    }

    /// <summary>
    /// Decodes and handles a message's text; the host (local listener or the Functions host) then deletes,
    /// retries or poisons it. Shared by both hosting modes so they behave the same.
    /// </summary>
    public async Task<(Disposition Disposition, string? Reason)> HandleAsync(string text, string messageId, long dequeueCount, CancellationToken cancellationToken)
    {
        if (dequeueCount > options.MaxDequeueCount)
        {
            return (Disposition.Poison, $"delivered {dequeueCount} times without success");
        }

        if (!codec.TryDecode(text, out var decoded, out var error))
        {
            return (Disposition.Poison, $"cannot be trusted: {error}");
        }

        try
        {
            await handler(decoded!, cancellationToken);
            return (Disposition.Done, null);
        }
        catch (Exception ex) when (ex is InvalidMessageException or ProtocolViolationException)
        {
            return (Disposition.Poison, ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (StorageErrors.IsUnreachable(ex))
            {
                logger.MessageFailedStorageUnreachable(queue, messageId, decoded!.TransactionId, dequeueCount, StorageErrors.Describe(ex));
            }
            else
            {
                logger.MessageFailed(ex, queue, messageId, decoded!.TransactionId, dequeueCount);
            }

            return dequeueCount >= options.MaxDequeueCount
                ? (Disposition.Poison, $"failed {dequeueCount} times, last: {ex.GetType().Name}: {ex.Message}")
                : (Disposition.Retry, null);
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

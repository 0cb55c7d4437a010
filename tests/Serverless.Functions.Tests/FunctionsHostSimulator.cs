using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace Serverless.Functions.Tests;

/// <summary>
/// Plays the Azure Functions host's queue trigger against a custom handler, with the envelope shapes of the
/// custom-handler documentation: receive (base64, as the host's default messageEncoding), POST
/// <c>/{FunctionName}</c> with <c>{"Data":{"message":…},"Metadata":{…}}</c>, delete on 2xx, otherwise make the
/// message visible again, and move it to <c>{queue}-poison</c> once it failed maxDequeueCount times.
/// </summary>
public sealed class FunctionsHostSimulator(HttpClient handler, string connectionString, IReadOnlyDictionary<string, string> functionsByQueue, int maxDequeueCount = 5)
{
    private readonly QueueServiceClient _queues = new(connectionString, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });

    public List<(string Function, int Status, JsonElement Response)> Invocations { get; } = [];

    /// <summary>Delivers every visible message once; returns how many were delivered.</summary>
    public async Task<int> PumpOnceAsync(string? onlyFunction = null)
    {
        var delivered = 0;
        foreach (var (queue, function) in functionsByQueue.Where(f => onlyFunction is null || f.Value == onlyFunction))
        {
            var client = _queues.GetQueueClient(queue);
            if (!await client.ExistsAsync())
            {
                continue;
            }

            foreach (var message in (await client.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30))).Value)
            {
                delivered++;
                await InvokeAsync(client, function, message);
            }
        }

        return delivered;
    }

    /// <summary>Pumps until <paramref name="done"/> holds or the timeout passes.</summary>
    public async Task PumpUntilAsync(Func<Task<bool>> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await done())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the simulated Functions host pumped until its deadline without reaching the condition");
            }

            if (await PumpOnceAsync() == 0)
            {
                await Task.Delay(50);
            }
        }
    }

    private async Task InvokeAsync(QueueClient queue, string function, QueueMessage message)
    {
        // Dictionaries keep the host's PascalCase names (an anonymous type would be camel-cased by the web defaults).
        var envelope = new Dictionary<string, object?>
        {
            ["Data"] = new Dictionary<string, object?> { ["message"] = message.Body.ToString() },
            ["Metadata"] = new Dictionary<string, object?>
            {
                ["DequeueCount"] = message.DequeueCount,
                ["ExpirationTime"] = message.ExpiresOn,
                ["Id"] = message.MessageId,
                ["InsertionTime"] = message.InsertedOn,
                ["NextVisibleTime"] = message.NextVisibleOn,
                ["PopReceipt"] = message.PopReceipt,
                ["sys"] = new Dictionary<string, object?> { ["MethodName"] = function, ["UtcNow"] = DateTimeOffset.UtcNow, ["RandGuid"] = Guid.NewGuid() },
            },
        };
        var response = await handler.PostAsJsonAsync($"/{function}", envelope);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Invocations.Add((function, (int)response.StatusCode, body));
        if (response.IsSuccessStatusCode)
        {
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        }
        else if (message.DequeueCount >= maxDequeueCount)
        {
            var poison = _queues.GetQueueClient(queue.Name + "-poison");
            await poison.CreateIfNotExistsAsync();
            await poison.SendMessageAsync(message.Body.ToString());
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        }
        else
        {
            await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
        }
    }
}

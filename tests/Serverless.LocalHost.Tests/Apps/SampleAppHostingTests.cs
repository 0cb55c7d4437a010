using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Storage.Queues;
using DurableTask.AzureStorage;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serverless.Testing;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>Another isolated-worker app, hosted from its built assembly: its functions, its services, and only what it uses.</summary>
public sealed class SampleAppHostingTests(SampleAppFixture fixture) : IClassFixture<SampleAppFixture>
{
    [Fact]
    public async Task ItsHttpFunction_AnswersFromTheServicesItsRegistrationMethodAdds()
    {
        var answer = await fixture.Client.GetFromJsonAsync<JsonElement>($"/api/hello/shipping?code={SampleAppFixture.ApiKey}");

        Assert.Equal($"{SampleAppFixture.Greeting}, shipping", answer.GetProperty("greeting").GetString());
    }

    [Fact]
    public async Task ItsNonAnonymousRoutes_RequireTheApiKeySetting()
    {
        using var without = await fixture.Client.GetAsync("/api/hello/shipping");
        using var wrong = await fixture.Client.GetAsync("/api/hello/shipping?code=wrong");
        using var header = new HttpRequestMessage(HttpMethod.Get, "/api/journal") { Headers = { { "x-functions-key", SampleAppFixture.ApiKey } } };
        using var with = await fixture.Client.SendAsync(header);

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.OK), (without.StatusCode, wrong.StatusCode, with.StatusCode));
    }

    [Fact]
    public async Task ItsQueueTrigger_ReadsItsInboxThroughTheNamedConnection()
    {
        var message = $"prepare-{Guid.NewGuid():N}";
        var inbox = new QueueClient(fixture.Coordinator.ConnectionString, SampleApp.Inbox, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        await inbox.CreateIfNotExistsAsync();
        await inbox.SendMessageAsync(message);

        await Eventually.WaitAsync(
            async () => (await JournalAsync()).GetProperty("messages").EnumerateArray().Any(m => m.GetString() == message),
            TimeSpan.FromSeconds(30),
            "the inbox function to receive the message");
        await Eventually.WaitAsync(
            async () => (await inbox.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0,
            TimeSpan.FromSeconds(10),
            "the handled message to be deleted");
    }

    [Fact]
    public async Task ItsTimerTrigger_RunsOnItsSchedule()
    {
        await Eventually.WaitAsync(async () => (await JournalAsync()).GetProperty("ticks").GetInt32() > 0, TimeSpan.FromSeconds(10), "the timer to run");
    }

    [Fact]
    public async Task AnAppWithoutDurableFunctions_GetsNoTaskHub_NoDurableClient_AndNoCoordinatorExtras()
    {
        // Its functions ran first, so that a task hub would have been created on its own storage by now.
        await ItsQueueTrigger_ReadsItsInboxThroughTheNamedConnection();
        await ItsTimerTrigger_RunsOnItsSchedule();

        Assert.Null(fixture.App.Services.GetService<DurableTaskClient>());
        Assert.Null(fixture.App.Services.GetService<AzureStorageOrchestrationServiceSettings>());
        Assert.DoesNotContain(fixture.App.Services.GetServices<IHostedService>(), s => s.GetType().Namespace == "Serverless.LocalHost.Durable");
        Assert.Empty(await NamesAsync(fixture.Own.CreateTableServiceClient().QueryAsync(), t => t.Name));
        Assert.Empty(await NamesAsync(fixture.Own.CreateQueueServiceClient().GetQueuesAsync(), q => q.Name));
        Assert.Empty(await NamesAsync(fixture.Coordinator.CreateTableServiceClient().QueryAsync(), t => t.Name));
        Assert.Equal([SampleApp.Inbox], await NamesAsync(fixture.Coordinator.CreateQueueServiceClient().GetQueuesAsync(), q => q.Name));

        // The Prometheus endpoint is the coordinator's.
        using var metrics = await fixture.Client.GetAsync($"{LocalFunctionsHost.PrometheusPath}?code={SampleAppFixture.ApiKey}");
        Assert.Equal(HttpStatusCode.NotFound, metrics.StatusCode);
    }

    [Fact]
    public async Task AnAppWithoutDurableFunctions_IsServedNoDurableManagementApi()
    {
        using var list = await fixture.Client.GetAsync($"{Serverless.LocalHost.Management.ManagementApi.BasePath}/instances?code={SampleAppFixture.ApiKey}");
        using var status = await fixture.Client.GetAsync($"{Serverless.LocalHost.Management.ManagementApi.BasePath}/instances/x?code={SampleAppFixture.ApiKey}");

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (list.StatusCode, status.StatusCode));
    }

    private static async Task<List<string>> NamesAsync<T>(IAsyncEnumerable<T> items, Func<T, string> name)
    {
        var names = new List<string>();
        await foreach (var item in items)
        {
            names.Add(name(item));
        }

        return names;
    }

    private async Task<JsonElement> JournalAsync() =>
        await fixture.Client.GetFromJsonAsync<JsonElement>($"/api/journal?code={SampleAppFixture.ApiKey}");
}

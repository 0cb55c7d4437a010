using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;
using Xunit;

namespace Serverless.Testing.Tests;

public sealed class AzuriteInstanceTests(AzuriteFixture fixture) : IClassFixture<AzuriteFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Fixture_ServesQueuesAndTablesOnLoopback()
    {
        using var cancellation = new CancellationTokenSource(Timeout);
        var prefix = TestNames.UniquePrefix();
        Assert.Contains($"QueueEndpoint=http://127.0.0.1:{fixture.Azurite.QueuePort}/devstoreaccount1;", fixture.ConnectionString);
        Assert.Contains($"TableEndpoint=http://127.0.0.1:{fixture.Azurite.TablePort}/devstoreaccount1;", fixture.ConnectionString);

        var queue = fixture.Azurite.CreateQueueServiceClient().GetQueueClient($"{prefix}-inbox");
        await queue.CreateAsync(cancellationToken: cancellation.Token);
        await queue.SendMessageAsync("hello", cancellation.Token);
        var received = await queue.ReceiveMessageAsync(cancellationToken: cancellation.Token);
        Assert.Equal("hello", received.Value.Body.ToString());

        var table = fixture.Azurite.CreateTableServiceClient().GetTableClient($"{prefix}Rows");
        await table.CreateAsync(cancellation.Token);
        await table.AddEntityAsync(new TableEntity("p", "r") { ["Value"] = 42 }, cancellation.Token);
        var entity = await table.GetEntityAsync<TableEntity>("p", "r", cancellationToken: cancellation.Token);
        Assert.Equal(42, entity.Value.GetInt32("Value"));
    }

    [Fact]
    public async Task StartAgain_InPersistentMode_KeepsQueuesAndTablesOnTheSamePorts()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var location = Directory.CreateTempSubdirectory("azurite-test-");
        try
        {
            await using var azurite = await AzuriteInstance.StartAsync(
                new AzuriteOptions { Location = location.FullName }, cancellation.Token);
            var connectionString = azurite.ConnectionString;
            var prefix = TestNames.UniquePrefix();
            var queue = azurite.CreateQueueServiceClient().GetQueueClient($"{prefix}-inbox");
            await queue.CreateAsync(cancellationToken: cancellation.Token);
            await queue.SendMessageAsync("survives", cancellation.Token);
            var table = azurite.CreateTableServiceClient().GetTableClient($"{prefix}Rows");
            await table.CreateAsync(cancellation.Token);
            await table.AddEntityAsync(new TableEntity("p", "r") { ["Value"] = "kept" }, cancellation.Token);

            await azurite.StopAsync(cancellation.Token);

            Assert.False(azurite.IsRunning);
            foreach (var port in new[] { azurite.BlobPort, azurite.QueuePort, azurite.TablePort })
            {
                using var client = new TcpClient();
                await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port, cancellation.Token).AsTask());
            }

            await azurite.StartAgainAsync(cancellation.Token);

            Assert.Equal(connectionString, azurite.ConnectionString);
            var message = await queue.PeekMessageAsync(cancellation.Token);
            Assert.Equal("survives", message.Value.Body.ToString());
            var entity = await table.GetEntityAsync<TableEntity>("p", "r", cancellationToken: cancellation.Token);
            Assert.Equal("kept", entity.Value.GetString("Value"));
        }
        finally
        {
            location.Delete(recursive: true);
        }
    }
}

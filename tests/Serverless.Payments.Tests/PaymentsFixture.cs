using Serverless.Testing;

namespace Serverless.Payments.Tests;

/// <summary>One payment service per test class; tests keep apart by using accounts and keys of their own (<see cref="Api.NewId"/>).</summary>
public sealed class PaymentsFixture : IAsyncLifetime
{
    private PaymentsServer? _server;

    public PaymentsServer Server => _server ?? throw new InvalidOperationException("The payment service has not started.");

    public async Task InitializeAsync() => _server = await PaymentsServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Settings;
using Serverless.Participants.Payments;

namespace Serverless.Functions.Participants.Payments;

/// <summary>
/// The sample <c>payments</c> saga participant as a module: an external payment service at <c>PAYMENTS_URL</c>, called by the
/// <c>SagaAction</c> and <c>Compensate</c> activities through <see cref="PaymentsClient"/> with the bearer
/// <c>PAYMENTS_API_KEY</c> (required with <c>PAYMENTS_URL</c>). It has no inbox: it cannot prepare.
/// </summary>
public static class PaymentsParticipant
{
    public const string Name = "payments";

    public static IServiceCollection Register(IServiceCollection services, TransactionsSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.PaymentsUrl is not { } url
            ? services
            : services.AddSagaParticipant(Name, _ => new PaymentsClient(
                new HttpClient
                {
                    BaseAddress = url,
                    Timeout = TimeSpan.FromSeconds(settings.PaymentsTimeoutSeconds),
                },
                settings.PaymentsApiKey ?? throw new InvalidOperationException($"{TransactionsSettings.PaymentsApiKeyKey} is not set, but PAYMENTS_URL is.")));
    }
}

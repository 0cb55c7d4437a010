using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serverless.LocalHost.SampleKit;

namespace Serverless.LocalHost.SampleApp;

/// <summary>The sample app's services, registered the same way by its <c>Program.cs</c> and by the local Functions host.</summary>
public static class SampleServiceCollectionExtensions
{
    /// <summary>The setting holding the greeting word; "hello" when unset.</summary>
    public const string GreetingSetting = "SAMPLE_GREETING";

    public static IServiceCollection AddSampleApp(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddSingleton(new Greeter(configuration[GreetingSetting] is { Length: > 0 } greeting ? greeting : "hello"));
        services.AddSingleton<Journal>();
        return services;
    }
}

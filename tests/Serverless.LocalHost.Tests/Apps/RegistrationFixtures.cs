using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>A registration method, as an app's Program.cs calls it.</summary>
public static class FirstRegistration
{
    public static IServiceCollection AddFirst(this IServiceCollection services, IConfiguration configuration) => services.AddSingleton(configuration);
}

/// <summary>A second registration method: an app with both has no one source of truth for its services.</summary>
public static class SecondRegistration
{
    public static IServiceCollection AddSecond(this IServiceCollection services, IConfiguration configuration) => services.AddSingleton(configuration);
}

/// <summary>Look-alikes that are not registration methods (AddTransactionsTelemetry has another signature, too).</summary>
public static class NotRegistrations
{
    public static IServiceCollection AddWithMore(this IServiceCollection services, IConfiguration configuration, string name) =>
        services.AddKeyedSingleton(name, configuration);

    public static IServiceCollection AddWithoutConfiguration(this IServiceCollection services) => services;

    public static IServiceCollection AddGeneric<T>(this IServiceCollection services, IConfiguration configuration)
        where T : class => services.AddSingleton(configuration);

    public static void AddReturningNothing(this IServiceCollection services, IConfiguration configuration) => services.AddSingleton(configuration);

    internal static IServiceCollection AddInternal(this IServiceCollection services, IConfiguration configuration) => services.AddSingleton(configuration);
}

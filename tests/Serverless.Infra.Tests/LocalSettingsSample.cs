using Serverless.Infra.Tests.Arm;
using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>Whether an app's settings on Azure cover every value of its local.settings.sample.json.</summary>
public static class LocalSettingsSample
{
    /// <summary>The value a sample gives a storage connection locally: Azurite's.</summary>
    public const string AzuriteConnection = "UseDevelopmentStorage=true";

    /// <summary>
    /// Every setting of <paramref name="sample"/> (the <c>Values</c> of an app's local.settings.sample.json) is a setting of
    /// <paramref name="site"/>, in the form Azure needs: a storage connection (Azurite's locally) as its identity-based
    /// <c>{name}__…</c> parts, never a connection string; <c>FUNCTIONS_WORKER_RUNTIME</c> as the Flex Consumption runtime.
    /// </summary>
    public static void AssertCoveredBy(IReadOnlyDictionary<string, string> sample, PredictedResource site, string sampleName)
    {
        var settings = site.AppSettings;
        foreach (var (name, sampleValue) in sample)
        {
            if (name == "FUNCTIONS_WORKER_RUNTIME")
            {
                // Flex Consumption takes the runtime from functionAppConfig, not from this setting.
                Assert.Equal(sampleValue, ArmScope.AsString(site.Property("functionAppConfig.runtime.name")));
            }
            else if (sampleValue == AzuriteConnection)
            {
                // On Azure the connection is identity-based: the same connection name, split into its __ parts (an account
                // or a service URI, the managed identity), and no connection string, which would need an account key.
                Assert.DoesNotContain(name, settings.Keys);
                Assert.True(
                    settings.TryGetValue($"{name}__credential", out var credential) && credential == "managedidentity",
                    $"{sampleName} has the connection {name}; {site.Name} has no {name}__credential=managedidentity.");
                Assert.True(
                    settings.Keys.Any(k => k == $"{name}__accountName" || (k.StartsWith($"{name}__", StringComparison.Ordinal) && k.EndsWith("ServiceUri", StringComparison.Ordinal))),
                    $"{sampleName} has the connection {name}; {site.Name} names no account or service URI for it.");
            }
            else
            {
                Assert.True(settings.ContainsKey(name), $"{sampleName} has {name}; the settings of {site.Name} do not.");
            }
        }
    }
}

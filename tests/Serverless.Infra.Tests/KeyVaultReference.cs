using Serverless.Infra.Tests.Snapshot;
using Xunit;

namespace Serverless.Infra.Tests;

/// <summary>Key Vault references in app settings, as an evaluated deployment shows them.</summary>
public static class KeyVaultReference
{
    /// <summary>
    /// A setting's value is a Key Vault reference (<c>@Microsoft.KeyVault(SecretUri=…)</c>) to the versionless URI of
    /// <paramref name="secret"/>, which the deployment fills in: never the key itself.
    /// </summary>
    public static void AssertPointsTo(string settingValue, PredictedResource secret)
    {
        Assert.StartsWith("[string(format('@Microsoft.KeyVault(SecretUri={0})', reference(", settingValue, StringComparison.Ordinal);
        Assert.EndsWith(").secretUri))]", settingValue, StringComparison.Ordinal);
        Assert.Equal(secret.Id, PredictedResource.ReferencedResourceId(settingValue));
    }
}

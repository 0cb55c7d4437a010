using Microsoft.Extensions.DependencyInjection;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.LocalHost.Apps;
using Serverless.LocalHost.Tests.Catalog;

namespace Serverless.LocalHost.Tests.Apps;

/// <summary>Which app the host runs, and how it finds the app's registration method.</summary>
public sealed class LocalAppTests
{
    [Fact]
    public void RegistrationOf_TheCoordinatorApp_IsAddTransactions_ItsOnlyOne()
    {
        var registration = LocalApp.RegistrationOf(typeof(TransactionsSettings).Assembly);

        Assert.Equal((typeof(TransactionsServiceCollectionExtensions), nameof(TransactionsServiceCollectionExtensions.AddTransactions)), (registration.DeclaringType, registration.Name));
    }

    [Fact]
    public void RegistrationOf_AnAppWithOne_IsIt_AndLookAlikesAreNotCounted()
    {
        var registration = LocalApp.RegistrationOf(new FixtureAssembly(typeof(NotRegistrations), typeof(FirstRegistration)));

        Assert.Equal(nameof(FirstRegistration.AddFirst), registration.Name);
    }

    [Fact]
    public void RegistrationOf_AnAppWithNone_FailsSayingWhatToAdd()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalApp.RegistrationOf(new FixtureAssembly(typeof(NotRegistrations))));

        Assert.Contains("The app Serverless.LocalHost.Tests.Fixtures has no registration method", error.Message, StringComparison.Ordinal);
        Assert.Contains("IServiceCollection Name(this IServiceCollection services, IConfiguration configuration)", error.Message, StringComparison.Ordinal);
        Assert.Contains("add one", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RegistrationOf_AnAppWithTwo_FailsNamingBoth()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            LocalApp.RegistrationOf(new FixtureAssembly(typeof(FirstRegistration), typeof(NotRegistrations), typeof(SecondRegistration))));

        Assert.Contains("has 2 registration methods", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{typeof(FirstRegistration).FullName}.AddFirst", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{typeof(SecondRegistration).FullName}.AddSecond", error.Message, StringComparison.Ordinal);
        Assert.Contains("keep one public", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_WithoutAnApp_IsTheCoordinatorApp_WithItsExtras()
    {
        var hosted = LocalApp.Choose(["--Host:LocalHttpPort", "7071"]);

        Assert.Same(typeof(TransactionsSettings).Assembly, hosted.Assembly);
        Assert.Equal(nameof(TransactionsServiceCollectionExtensions.AddTransactions), hosted.Registration.Name);
        Assert.Equal(TransactionsSettings.DefaultTaskHub, hosted.Extras.DefaultTaskHub);
        Assert.NotSame(AppExtras.None, hosted.Extras);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Choose_WithAnApp_LoadsItByPath_WithItsRegistrationAndFolder_AndNoExtras(bool equalsForm)
    {
        string[] args = equalsForm ? [$"--app={SampleApp.AssemblyPath}"] : ["--app", SampleApp.AssemblyPath];

        var hosted = LocalApp.Choose(args);

        Assert.Equal("Serverless.LocalHost.SampleApp", hosted.Name);
        Assert.Equal(SampleApp.AssemblyPath, hosted.Assembly.Location);
        Assert.Equal("AddSampleApp", hosted.Registration.Name);
        Assert.Equal(Path.GetDirectoryName(SampleApp.AssemblyPath), hosted.Root);
        Assert.Same(AppExtras.None, hosted.Extras);

        // Its services are registered by its own method, with the host's IServiceCollection.
        var services = new ServiceCollection();
        hosted.Register(services, new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        Assert.Contains(services, d => d.ServiceType.FullName == "Serverless.LocalHost.SampleKit.Greeter");
    }

    [Fact]
    public void Choose_WithAnAppThatIsNotThere_FailsNamingThePath()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalApp.Choose(["--app", "/nowhere/App.dll"]));

        Assert.Contains("--app /nowhere/App.dll: there is no such file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_WithAnAppOptionWithoutAPath_FailsSayingWhatItNeeds()
    {
        var error = Assert.Throws<InvalidOperationException>(() => LocalApp.Choose(["--app"]));

        Assert.Contains("--app needs the path", error.Message, StringComparison.Ordinal);
    }
}

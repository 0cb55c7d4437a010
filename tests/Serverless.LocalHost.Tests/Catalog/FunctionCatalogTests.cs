using Microsoft.Azure.Functions.Worker;
using Serverless.Functions.Settings;
using Serverless.LocalHost.Catalog;

namespace Serverless.LocalHost.Tests.Catalog;

public sealed class FunctionCatalogTests
{
    [Fact]
    public void Load_OfFunctionsOfEveryServedKind_DescribesEachByItsDeclaration()
    {
        var functions = FunctionCatalog.Load(new FixtureAssembly(typeof(ServableFunctions))).ToDictionary(f => f.Name);

        Assert.Equal(
            ["Act", "ExplicitConnection", "GetThing", "Inbox", "Orchestrate", "Ping", "PostAnywhere", "Tick"],
            functions.Keys.Order(StringComparer.Ordinal));

        var get = functions["GetThing"];
        Assert.Equal((TriggerKind.Http, "things/{thing}", AuthorizationLevel.Function), (get.Trigger, get.Target, get.AuthLevel));
        Assert.Equal(["GET"], get.HttpMethods);
        Assert.Equal("request", get.TriggerParameter.Name);
        Assert.Equal(typeof(Microsoft.AspNetCore.Http.IResult), get.ResultType);

        // Without a route the function's name is its route; without methods, every method (none listed), as in Functions.
        var post = functions["PostAnywhere"];
        Assert.Equal(("PostAnywhere", AuthorizationLevel.Anonymous), (post.Target, post.AuthLevel));
        Assert.Empty(post.HttpMethods);

        Assert.Equal(["HEAD", "OPTIONS"], functions["Ping"].HttpMethods);
        Assert.Null(functions["Ping"].ResultType);

        // Binding expressions stay unresolved in the catalog; the host resolves them against its settings.
        Assert.Equal((TriggerKind.Queue, "%INBOX_QUEUE%"), (functions["Inbox"].Trigger, functions["Inbox"].Target));
        Assert.Equal((TriggerKind.Queue, "explicit"), (functions["ExplicitConnection"].Trigger, functions["ExplicitConnection"].Target));
        Assert.Equal((TriggerKind.Timer, "0 */5 * * * *"), (functions["Tick"].Trigger, functions["Tick"].Target));
        Assert.Equal((TriggerKind.Orchestration, (string?)null), (functions["Orchestrate"].Trigger, functions["Orchestrate"].Target));
        Assert.Equal(typeof(int), functions["Orchestrate"].ResultType);
        Assert.Equal(TriggerKind.Activity, functions["Act"].Trigger);
        Assert.Equal(typeof(string), functions["Act"].ResultType);
    }

    [Theory]
    [InlineData(typeof(UnknownTrigger), "OnBlob", "blob", "[BlobTrigger] on a String")]
    [InlineData(typeof(BlobInput), "Enrich", "reference", "[BlobInput] on a String")]
    [InlineData(typeof(QueueTriggerOnBytes), "Bytes", "message", "[QueueTrigger] on a Byte[]")]
    [InlineData(typeof(ParameterWithoutBinding), "Lookup", "filter", "no binding, and it is not a route value")]
    [InlineData(typeof(TwoTriggers), "Both", "timer", "a second trigger (TimerTriggerAttribute)")]
    [InlineData(typeof(DurableClientOfAnotherType), "OldClient", "client", "[DurableClient] on a Object")]
    public void Load_OfABindingThisHostCannotServe_RefusesNamingTheFunctionAndParameter(Type fixture, string function, string parameter, string what)
    {
        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(new FixtureAssembly(fixture)));

        Assert.Contains($"Function '{function}', parameter '{parameter}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(what, error.Message, StringComparison.Ordinal);
        Assert.Contains("func start", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfAQueueTriggerOnANamedConnection_KeepsTheConnectionForTheHostToResolve()
    {
        var functions = FunctionCatalog.Load(new FixtureAssembly(typeof(OtherConnection), typeof(ServableFunctions))).ToDictionary(f => f.Name);

        Assert.Equal((TriggerKind.Queue, "incoming", "OtherStorage"), (functions["Elsewhere"].Trigger, functions["Elsewhere"].Target, functions["Elsewhere"].Connection));
        Assert.Null(functions["Inbox"].Connection);
        Assert.Equal("AzureWebJobsStorage", functions["ExplicitConnection"].Connection);
    }

    [Fact]
    public void UsesDurable_IsTrueForOrchestratorsActivitiesAndDurableClients_Only()
    {
        var functions = FunctionCatalog.Load(new FixtureAssembly(typeof(ServableFunctions)));

        Assert.Equal(["Act", "Inbox", "Orchestrate"], functions.Where(f => f.UsesDurable).Select(f => f.Name));
    }

    [Fact]
    public void Load_OfAnOutputBindingOnTheReturnValue_RefusesNamingTheFunctionAndItsReturnValue()
    {
        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(new FixtureAssembly(typeof(ReturnValueOutputBinding))));

        Assert.Contains("Function 'Forward'", error.Message, StringComparison.Ordinal);
        Assert.Contains("output binding on its return value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfAnOutputBindingOnAPropertyOfTheResult_RefusesNamingTheFunctionAndTheProperty()
    {
        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(new FixtureAssembly(typeof(PropertyOutputBinding))));

        Assert.Contains("Function 'ForwardMany'", error.Message, StringComparison.Ordinal);
        Assert.Contains("ForwardOutputs.Message", error.Message, StringComparison.Ordinal);
        Assert.Contains("output binding", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(HttpReturningString), "Hello", "returns String")]
    [InlineData(typeof(HttpReturningTaskOfObject), "HelloLater", "returns Object")]
    public void Load_OfAnHttpFunctionThatDoesNotReturnAnIResult_RefusesNamingTheFunctionAndWhatItReturns(Type fixture, string function, string what)
    {
        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(new FixtureAssembly(fixture)));

        Assert.Contains($"HTTP function '{function}' {what}", error.Message, StringComparison.Ordinal);
        Assert.Contains("IResult", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfAFunctionWithoutATrigger_RefusesNamingTheFunctionAndMethod()
    {
        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(new FixtureAssembly(typeof(NoTrigger))));

        Assert.Contains("Function 'Idle' (NoTrigger.Idle) has no trigger this host serves", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfTwoFunctionsWhoseNamesDifferOnlyInCase_Refuses()
    {
        var error = Assert.Throws<NotSupportedException>(() =>
            FunctionCatalog.Load(new FixtureAssembly(typeof(FirstOfTwoNamedAlike), typeof(SecondOfTwoNamedAlike))));

        Assert.Contains("Two functions are named", error.Message, StringComparison.Ordinal);
        Assert.Contains("win", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Load_OfTheApp_ServesEveryFunctionItDeclares()
    {
        var functions = FunctionCatalog.Load(typeof(Serverless.Functions.Settings.TransactionsSettings).Assembly);

        Assert.Contains(functions, f => f is { Name: "TwoPhaseCommit", Trigger: TriggerKind.Orchestration });
        Assert.Equal(functions.Select(f => f.Name).Order(StringComparer.Ordinal), functions.Select(f => f.Name));
    }

    [Fact]
    public void Load_OfTheAppAndAnotherAssembly_ServesBothAndRefusesANameTheyShare()
    {
        var app = typeof(Serverless.Functions.Settings.TransactionsSettings).Assembly;

        var functions = FunctionCatalog.Load(app, new FixtureAssembly(typeof(ServableFunctions)));

        Assert.Contains(functions, f => f is { Name: "TwoPhaseCommit", Trigger: TriggerKind.Orchestration });
        Assert.Contains(functions, f => f is { Name: "Act", Trigger: TriggerKind.Activity });
        Assert.Equal(functions.Select(f => f.Name).Order(StringComparer.Ordinal), functions.Select(f => f.Name));

        var error = Assert.Throws<NotSupportedException>(() => FunctionCatalog.Load(app, new FixtureAssembly(typeof(NamedLikeTheAppsOrchestrator))));
        Assert.Contains("Two functions are named 'TwoPhaseCommit'", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(NamedLikeTheAppsOrchestrator), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_WithNull_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => FunctionCatalog.Load(null!));
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Serverless.Functions.Hosting;
using Serverless.Functions.Settings;
using Serverless.LocalHost.Catalog;

namespace Serverless.LocalHost.Tests.Metadata;

/// <summary>
/// The coverage rule: every function in the Worker SDK's <c>functions.metadata</c> (what the Functions host serves on
/// Azure) is served by the local host with the same trigger and the same route, methods, queue or schedule; and the local host
/// serves nothing the metadata does not declare.
/// </summary>
public sealed class FunctionsMetadataTests
{
    private static readonly Lazy<IReadOnlyList<MetadataFunction>> Metadata = new(FunctionsMetadata.Load);

    private static readonly Lazy<IReadOnlyDictionary<string, LocalFunction>> Served = new(() =>
        FunctionCatalog.Load(typeof(TransactionsSettings).Assembly).ToDictionary(f => f.Name, StringComparer.Ordinal));

    public static TheoryData<string> MetadataFunctions => [.. Metadata.Value.Select(f => f.Name)];

    public static TheoryData<string> ServedFunctions => [.. Served.Value.Keys];

    [Fact]
    public void Metadata_IsTheAppsAndDeclaresTheContractsFunctions()
    {
        var byName = Metadata.Value.ToDictionary(f => f.Name);

        Assert.Equal("orchestrationTrigger", byName["TwoPhaseCommit"].Trigger.Type);
        Assert.Equal("tx-coordinator", byName["CoordinatorInbox"].Trigger.QueueName);
        Assert.Equal("tx-participant-bank", byName["BankParticipant"].Trigger.QueueName);
        Assert.Equal("transactions", byName["StartTransaction"].Trigger.Route);
        Assert.All(Metadata.Value, f => Assert.StartsWith("Serverless.Functions.", f.EntryPoint, StringComparison.Ordinal));
    }

    [Fact]
    public void Catalog_ServesExactlyTheFunctionsOfTheMetadata()
    {
        var declared = Metadata.Value.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var served = Served.Value.Keys.ToHashSet(StringComparer.Ordinal);

        Assert.True(declared.Count == Metadata.Value.Count, "functions.metadata names a function twice");
        Assert.Empty(declared.Except(served));
        Assert.Empty(served.Except(declared));
    }

    [Theory]
    [MemberData(nameof(MetadataFunctions))]
    public void MetadataFunction_IsServedWithTheSameTriggerAndTarget(string name)
    {
        var declared = Metadata.Value.Single(f => f.Name == name);
        Assert.True(Served.Value.TryGetValue(name, out var served), $"the local host does not serve '{name}'");

        AssertSame(declared, served!);
    }

    [Theory]
    [MemberData(nameof(ServedFunctions))]
    public void ServedFunction_IsDeclaredInTheMetadataWithTheSameTriggerAndTarget(string name)
    {
        var declared = Metadata.Value.SingleOrDefault(f => f.Name == name);
        Assert.True(declared is not null, $"the local host serves '{name}', which functions.metadata does not declare");

        AssertSame(declared!, Served.Value[name]);
    }

    [Theory]
    [MemberData(nameof(MetadataFunctions))]
    public void MetadataFunction_HasNoBindingBesidesItsTriggerThatTheHostDoesNotServe(string name)
    {
        var declared = Metadata.Value.Single(f => f.Name == name);
        var served = Served.Value[name];
        var parameters = served.Method.GetParameters().ToDictionary(p => p.Name!, StringComparer.Ordinal);

        foreach (var binding in declared.Bindings.Where(b => b != declared.Trigger))
        {
            switch (binding.Type, binding.Direction, binding.Name)
            {
                case ("durableClient", "In", var parameter):
                    Assert.True(parameters.TryGetValue(parameter, out var client), $"'{name}' has no parameter '{parameter}'");
                    Assert.Equal(typeof(DurableTaskClient), client!.ParameterType);
                    break;
                case ("http", "Out", "$return"):
                    Assert.Equal(TriggerKind.Http, served.Trigger);
                    Assert.True(served.ResultType is null || typeof(IResult).IsAssignableFrom(served.ResultType), $"'{name}' returns {served.ResultType}");
                    break;
                default:
                    Assert.Fail($"'{name}' declares a {binding.Direction} binding '{binding.Type}' ({binding.Name}) that the local host does not serve");
                    break;
            }
        }
    }

    [Theory]
    [MemberData(nameof(MetadataFunctions))]
    public void MetadataFunction_EntryPointIsTheMethodTheHostInvokes(string name)
    {
        var served = Served.Value[name];

        Assert.Equal(Metadata.Value.Single(f => f.Name == name).EntryPoint, $"{served.Method.DeclaringType!.FullName}.{served.Method.Name}");
    }

    private static void AssertSame(MetadataFunction declared, LocalFunction served)
    {
        var trigger = declared.Trigger;
        var expected = trigger.Type switch
        {
            "httpTrigger" => TriggerKind.Http,
            "queueTrigger" => TriggerKind.Queue,
            "timerTrigger" => TriggerKind.Timer,
            "orchestrationTrigger" => TriggerKind.Orchestration,
            "activityTrigger" => TriggerKind.Activity,
            _ => throw new Xunit.Sdk.XunitException($"'{declared.Name}' has a trigger '{trigger.Type}' the local host does not serve"),
        };
        Assert.Equal(expected, served.Trigger);
        Assert.Equal(trigger.Name, served.TriggerParameter.Name);

        switch (served.Trigger)
        {
            case TriggerKind.Http:
                Assert.Equal(trigger.Route ?? declared.Name, served.Target, StringComparer.OrdinalIgnoreCase);
                Assert.Equal(
                    (trigger.Methods ?? []).Select(m => m.ToUpperInvariant()).Order(StringComparer.Ordinal),
                    served.HttpMethods.Select(m => m.ToUpperInvariant()).Order(StringComparer.Ordinal));
                Assert.Equal(trigger.AuthLevel, served.AuthLevel.ToString(), StringComparer.OrdinalIgnoreCase);
                break;
            case TriggerKind.Queue:
                Assert.Equal(trigger.QueueName, served.Target);
                Assert.Contains(trigger.Connection, new[] { null, "AzureWebJobsStorage" });
                break;
            case TriggerKind.Timer:
                Assert.Equal(trigger.Schedule, served.Target);
                break;
            default:
                Assert.Null(served.Target);
                break;
        }
    }
}

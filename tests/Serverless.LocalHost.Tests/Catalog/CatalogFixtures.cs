using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace Serverless.LocalHost.Tests.Catalog;

/// <summary>
/// An assembly that exports exactly the given types, so that <see cref="Serverless.LocalHost.Catalog.FunctionCatalog.Load"/>
/// reads one fixture class at a time (it reads an assembly's exported types, as it does for the app).
/// </summary>
internal sealed class FixtureAssembly(params Type[] types) : Assembly
{
    public override string FullName => "Serverless.LocalHost.Tests.Fixtures";

    public override Type[] GetExportedTypes() => types;
}

/// <summary>Functions of every kind the local host serves, declared the way the app declares them.</summary>
public sealed class ServableFunctions
{
    [Function("GetThing")]
    public IResult GetThing([HttpTrigger(AuthorizationLevel.Function, "get", Route = "things/{thing}")] HttpRequest request, string thing) =>
        TypedResults.Ok(thing);

    [Function("PostAnywhere")]
    public Task<IResult> PostAnywhere([HttpTrigger(AuthorizationLevel.Anonymous)] HttpRequest request, CancellationToken cancellationToken) =>
        Task.FromResult<IResult>(TypedResults.NoContent());

    [Function("Ping")]
    public Task Ping([HttpTrigger(AuthorizationLevel.Anonymous, "head", "Options")] HttpRequest request) => Task.CompletedTask;

    [Function("Inbox")]
    public Task Inbox([QueueTrigger("%INBOX_QUEUE%")] string message, [DurableClient] DurableTaskClient client, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    [Function("ExplicitConnection")]
    public void ExplicitConnection([QueueTrigger("explicit", Connection = "AzureWebJobsStorage")] string message)
    {
    }

    [Function("Tick")]
    public void Tick([TimerTrigger("0 */5 * * * *")] TimerInfo timer)
    {
    }

    [Function("Orchestrate")]
    public Task<int> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context, string input) => Task.FromResult(input.Length);

    [Function("Act")]
    public static Task<string> Act([ActivityTrigger] string input) => Task.FromResult(input);
}

/// <summary>Results with output bindings: on Azure the Functions host sends what they name; this host could not.</summary>
public sealed class ForwardOutputs
{
    [QueueOutput("forwarded")]
    public string? Message { get; set; }
}

public sealed class ReturnValueOutputBinding
{
    [Function("Forward")]
    [QueueOutput("forwarded")]
    public string Forward([QueueTrigger("incoming")] string message) => message;
}

public sealed class PropertyOutputBinding
{
    [Function("ForwardMany")]
    public ForwardOutputs ForwardMany([QueueTrigger("incoming")] string message) => new() { Message = message };
}

public sealed class UnknownTrigger
{
    [Function("OnBlob")]
    public void OnBlob([BlobTrigger("uploads/{name}")] string blob)
    {
    }
}

public sealed class BlobInput
{
    [Function("Enrich")]
    public void Enrich([QueueTrigger("incoming")] string message, [BlobInput("reference/data.json")] string reference)
    {
    }
}

/// <summary>A queue read through a named connection: the setting OtherStorage, as an outside participant reads its inbox.</summary>
public sealed class OtherConnection
{
    [Function("Elsewhere")]
    public void Elsewhere([QueueTrigger("incoming", Connection = "OtherStorage")] string message)
    {
    }
}

public sealed class HttpReturningString
{
    [Function("Hello")]
    public string Hello([HttpTrigger(AuthorizationLevel.Anonymous, "get")] HttpRequest request) => "hello";
}

public sealed class HttpReturningTaskOfObject
{
    [Function("HelloLater")]
    public Task<object> HelloLater([HttpTrigger(AuthorizationLevel.Anonymous, "get")] HttpRequest request) => Task.FromResult<object>("hello");
}

public sealed class ParameterWithoutBinding
{
    [Function("Lookup")]
    public IResult Lookup([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "lookup/{key}")] HttpRequest request, string key, string filter) =>
        TypedResults.Ok(key + filter);
}

public sealed class QueueTriggerOnBytes
{
    [Function("Bytes")]
    public void Bytes([QueueTrigger("incoming")] byte[] message)
    {
    }
}

public sealed class TwoTriggers
{
    [Function("Both")]
    public void Both([QueueTrigger("incoming")] string message, [TimerTrigger("0 * * * * *")] TimerInfo timer)
    {
    }
}

public sealed class NoTrigger
{
    [Function("Idle")]
    public void Idle([DurableClient] DurableTaskClient client)
    {
    }
}

// The Durable analyzer refuses this at build time too; the host must refuse it when the analyzer is not there.
#pragma warning disable DURABLE1002
public sealed class DurableClientOfAnotherType
{
    [Function("OldClient")]
    public void OldClient([QueueTrigger("incoming")] string message, [DurableClient] object client)
    {
    }
}
#pragma warning restore DURABLE1002

public sealed class FirstOfTwoNamedAlike
{
    [Function("Twin")]
    public void Twin([QueueTrigger("one")] string message)
    {
    }
}

public sealed class SecondOfTwoNamedAlike
{
    [Function("twin")]
    public void Twin([QueueTrigger("two")] string message)
    {
    }
}

/// <summary>A function another assembly would serve beside the app's under a name the app already uses.</summary>
public sealed class NamedLikeTheAppsOrchestrator
{
    [Function("TwoPhaseCommit")]
    public Task<int> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) => Task.FromResult(0);
}

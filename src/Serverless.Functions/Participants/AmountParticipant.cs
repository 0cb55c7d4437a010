using System.Text.Json.Nodes;
using Serverless.Functions.Http;
using Serverless.Participants.Tables;

namespace Serverless.Functions.Participants;

/// <summary>
/// What the sample participants kept in Table storage (<see cref="AmountResourceManager{TOperation}"/>) share: routes that set
/// and read one amount per key. PUT takes <c>{"{amount}": n}</c>; both answer <c>{"{key}", "{amount}", "{held}"}</c>; GET of a
/// missing resource is a 404 problem. A module declares its own functions (names, triggers, routes) and fields; their bodies
/// are here.
/// </summary>
/// <param name="resources">The participant's resource manager.</param>
/// <param name="guard">Runs each route within the request budget.</param>
/// <param name="what">The resource, as a 404 names it (<c>account</c>).</param>
/// <param name="key">The field of the key (<c>account</c>).</param>
/// <param name="amount">The field of the amount (<c>balance</c>).</param>
/// <param name="held">The field of the part prepared branches hold (<c>held</c>).</param>
public abstract class AmountParticipant<TOperation>(
    AmountResourceManager<TOperation> resources, ApiGuard guard, string what, string key, string amount, string held)
    where TOperation : class
{
    /// <summary>Sets the amount of <paramref name="id"/> and answers its document.</summary>
    protected Task<IResult> PutAsync(HttpRequest request, string id) =>
        guard.RunAsync(request, async ct =>
        {
            var (value, problem) = await AmountBody.ReadAsync(request, id, amount, ct);
            if (problem is not null)
            {
                return problem;
            }

            await resources.SetAsync(id, value, ct);
            return Document(id, (await resources.GetAsync(id, ct))!.Value);
        });

    /// <summary>Answers the document of <paramref name="id"/>, or a 404 problem.</summary>
    protected Task<IResult> GetAsync(HttpRequest request, string id) =>
        guard.RunAsync(request, async ct =>
            TableResourceManager<TOperation>.IsValidKey(id) && await resources.GetAsync(id, ct) is { } found
                ? Document(id, found)
                : AmountBody.NotFound($"{what} '{id}'"));

    private IResult Document(string id, (long Amount, long Held) resource) =>
        TypedResults.Ok(new JsonObject { [key] = id, [amount] = resource.Amount, [held] = resource.Held });
}

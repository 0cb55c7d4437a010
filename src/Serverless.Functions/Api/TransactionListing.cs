using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Serverless.Core.Protocol;
using Serverless.Functions.Coordination;
using Serverless.Functions.Http;
using Serverless.Functions.Settings;

namespace Serverless.Functions.Api;

/// <summary><c>GET /api/transactions</c>: a page of transactions, newest first within a page, optionally of one status.</summary>
public sealed class TransactionListing(TransactionsSettings settings, TransactionViews views)
{
    /// <summary>Most instance queries one listing request makes to fill a filtered page.</summary>
    private const int MaxQueriesPerPage = 10;

    /// <summary>The runtime statuses of an instance still carrying its transaction.</summary>
    private static readonly IReadOnlyList<OrchestrationRuntimeStatus> Running =
        [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Suspended];

    public async Task<IResult> ListAsync(HttpRequest request, DurableTaskClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        TransactionStatus? status = null;
        if (request.Query.TryGetValue("status", out var statusText))
        {
            if (Enum.TryParse<TransactionStatus>(statusText.ToString(), ignoreCase: true, out var s) && Enum.IsDefined(s) && !statusText.ToString().Any(char.IsDigit))
            {
                status = s;
            }
            else
            {
                errors["status"] = [$"Must be one of {string.Join(", ", Enum.GetNames<TransactionStatus>())}."];
            }
        }

        var top = 100;
        if (request.Query.TryGetValue("top", out var topText)
            && (!int.TryParse(topText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out top) || top is < 1 or > 1000))
        {
            errors["top"] = ["Must be a whole number from 1 to 1000."];
        }

        string? token = null;
        if (request.Query.TryGetValue("continuationToken", out var tokenText) && !TryDecodeToken(tokenText.ToString(), out token))
        {
            errors["continuationToken"] = ["Not a token this API issued."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        var query = new OrchestrationQuery
        {
            Statuses = status switch
            {
                null => null,
                // An instance that failed or was terminated shows its decision (TransactionViews): never Preparing.
                TransactionStatus.Preparing => Running,
                TransactionStatus.Committed or TransactionStatus.Aborted => [OrchestrationRuntimeStatus.Completed, .. TransactionViews.EndedWithoutOutcome],
                _ => [.. Running, .. TransactionViews.EndedWithoutOutcome],
            },
            FetchInputsAndOutputs = true,
        };

        var items = new List<TransactionView>();
        for (var queries = 0; queries < MaxQueriesPerPage && items.Count < top; queries++)
        {
            Page<OrchestrationMetadata>? page;
            try
            {
                page = await FirstPageAsync(client.GetAllInstancesAsync(query with { PageSize = top - items.Count }), token, top - items.Count, cancellationToken);
            }
            catch (Exception ex) when (token is not null && ex is not OperationCanceledException && !Storage.StorageErrors.IsUnreachable(ex))
            {
                return Problems.Validation(new() { ["continuationToken"] = ["Not a token this API issued."] });
            }

            foreach (var instance in page?.Values ?? [])
            {
                if (instance.Name == TwoPhaseCommitFunctions.OrchestratorName
                    && await views.ViewOfAsync(instance, cancellationToken) is { } view
                    && (status is null || view.Status == status.ToString()))
                {
                    items.Add(view);
                }
            }

            token = page?.ContinuationToken;
            if (string.IsNullOrEmpty(token))
            {
                token = null;
                break;
            }
        }

        // The task hub lists instances in its own order, page by page; within a page, newest first.
        items.Sort((a, b) => b.CreatedAt.CompareTo(a.CreatedAt));
        return TypedResults.Ok(new TransactionListDocument(items, token is null ? null : EncodeToken(token)));
    }

    private static async Task<Page<OrchestrationMetadata>?> FirstPageAsync(AsyncPageable<OrchestrationMetadata> pageable, string? token, int size, CancellationToken cancellationToken)
    {
        await foreach (var page in pageable.AsPages(token, size).WithCancellation(cancellationToken))
        {
            return page;
        }

        return null;
    }

    /// <summary>
    /// The task hub's continuation token, wrapped with a check so that a token this API never issued is a 400, not a
    /// start key handed to the backend: base64url of "{check}.{token}", the check being the first 8 bytes of SHA-256 of
    /// the token and this task hub's name, hex. Not a secret: it tells our tokens from made-up ones.
    /// </summary>
    private string EncodeToken(string token) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TokenCheck(token)}.{token}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private bool TryDecodeToken(string text, out string? token)
    {
        token = null;
        if (text.Length is 0 or > 4096 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            return false;
        }

        var base64 = text.Replace('-', '+').Replace('_', '/');
        base64 = base64.PadRight(base64.Length + ((4 - (base64.Length % 4)) % 4), '=');
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var written))
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        var dot = decoded.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == decoded.Length - 1 || !string.Equals(decoded[..dot], TokenCheck(decoded[(dot + 1)..]), StringComparison.Ordinal))
        {
            return false;
        }

        token = decoded[(dot + 1)..];
        return true;
    }

    private string TokenCheck(string token) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{settings.TaskHub}\n{token}")), 0, 8);

}

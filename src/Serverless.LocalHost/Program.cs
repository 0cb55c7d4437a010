using Serverless.LocalHost;

WebApplication app;
try
{
    app = LocalFunctionsHost.Build(args);
}
catch (InvalidOperationException ex)
{
    // A setting that is missing or wrong (TRANSACTIONS_SIGNING_KEY, …): its message says which and how to fix it; a stack
    // trace would only bury it.
    await Console.Error.WriteLineAsync($"Serverless.LocalHost: cannot start: {ex.Message}");
    return 1;
}

await app.RunAsync();
return 0;

using Serverless.LocalHost;

WebApplication app;
try
{
    app = LocalFunctionsHost.Build(args);
}
catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException)
{
    // A setting that is missing or wrong (TRANSACTIONS_SIGNING_KEY, a queue's connection, …), an app that cannot be hosted
    // (no registration method, a binding this host cannot serve): its message says which and how to fix it; a stack trace
    // would only bury it.
    await Console.Error.WriteLineAsync($"Serverless.LocalHost: cannot start: {ex.Message}");
    return 1;
}

await app.RunAsync();
return 0;

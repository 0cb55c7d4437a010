using Serverless.LocalHost;

var app = LocalFunctionsHost.Build(args);
await app.RunAsync();

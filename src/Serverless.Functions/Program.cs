using Serverless.Functions.Hosting;

var app = FunctionApp.Create(args);
await app.RunAsync();

/// <summary>The entry point; public so that tests can reference the assembly.</summary>
public partial class Program;

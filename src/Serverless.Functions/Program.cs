using Serverless.Functions.CustomHandler;
using Serverless.Functions.Hosting;

if (args is ["--generate-functions", var directory])
{
    // Run by `dotnet publish`: writes host.json (customHandler) and one function.json per function.
    CustomHandlerLayout.Write(directory, args: []);
    return;
}

var app = FunctionApp.Create(args);
await app.RunAsync();

/// <summary>The entry point; public so that tests can reference the assembly.</summary>
public partial class Program;

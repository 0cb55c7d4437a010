using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using Serverless.Core.Messaging;
using Serverless.Core.Protocol;
using Serverless.Testing;

namespace Serverless.ParticipantKit.Tests;

/// <summary>
/// The participant kit is a real package: <c>dotnet pack</c> of Core and the kit, then a project outside this repository (so
/// none of its Directory.*.props apply) that references the kit as a PackageReference from that folder, builds, and hosts a
/// participant with it.
/// </summary>
public sealed class KitPackageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string CoordinatorKey = "package-test-coordinator-key-0123456789abcdef";
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    private readonly string _work = Path.Combine(Path.GetTempPath(), $"serverless-kit-package-{TestNames.UniquePrefix()}");

    // A version of this run's own: a package of the same id and version restored earlier can never stand in for this one.
    private readonly string _version = $"1.0.0-test{DateTime.UtcNow:yyyyMMddHHmmss}{TestNames.UniquePrefix()}";

    private string Feed => Path.Combine(_work, "feed");

    private string Consumer => Path.Combine(_work, "consumer");

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Feed);
        Directory.CreateDirectory(Consumer);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task ThePackedKit_DeclaresItsDependencyOnCore_AndCarriesItsReadmeAndXmlDocs()
    {
        var (core, kit) = await PackAsync();

        await using (var package = await ZipFile.OpenReadAsync(kit))
        {
            var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("README.md", entries);
            Assert.Contains("lib/net10.0/Serverless.ParticipantKit.dll", entries);
            Assert.Contains("lib/net10.0/Serverless.ParticipantKit.xml", entries);
            Assert.DoesNotContain(entries, e => e.EndsWith(".dll", StringComparison.Ordinal) && !e.EndsWith("/Serverless.ParticipantKit.dll", StringComparison.Ordinal));

            var readme = await ReadEntryAsync(package, "README.md");
            Assert.Contains("AddParticipant(", readme, StringComparison.Ordinal);
            Assert.Contains("PARTICIPANT_SHIPPING_SIGNING_KEY", readme, StringComparison.Ordinal);
            var docs = XDocument.Parse(await ReadEntryAsync(package, "lib/net10.0/Serverless.ParticipantKit.xml"));
            var members = docs.Descendants("member").Select(m => (string)m.Attribute("name")!).ToList();
            Assert.Contains(members, m => m.StartsWith("M:Serverless.ParticipantKit.ParticipantInbox.ReceiveAsync(", StringComparison.Ordinal));
            Assert.Contains(members, m => m.StartsWith("M:Serverless.ParticipantKit.InDoubtInquiries.AskAsync(", StringComparison.Ordinal));
            Assert.Contains(members, m => m.StartsWith("M:Serverless.ParticipantKit.ParticipantServiceCollectionExtensions.AddParticipant", StringComparison.Ordinal));

            var nuspec = XDocument.Parse(await ReadEntryAsync(package, "Serverless.ParticipantKit.nuspec"));
            XNamespace ns = nuspec.Root!.Name.Namespace;
            var metadata = nuspec.Root.Element(ns + "metadata")!;
            Assert.Equal("Serverless.ParticipantKit", metadata.Element(ns + "id")!.Value);
            Assert.Equal(_version, metadata.Element(ns + "version")!.Value);
            Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
            var dependencies = metadata.Element(ns + "dependencies")!.Descendants(ns + "dependency")
                .ToDictionary(d => (string)d.Attribute("id")!, d => (string)d.Attribute("version")!, StringComparer.Ordinal);
            Assert.True(dependencies.TryGetValue("Serverless.Core", out var coreVersion), $"no dependency on Serverless.Core: {string.Join(", ", dependencies.Keys)}");
            Assert.Equal(_version, coreVersion);
            Assert.Contains("Azure.Storage.Queues", dependencies.Keys);
            Assert.DoesNotContain(dependencies.Keys, d => d.StartsWith("Serverless.", StringComparison.Ordinal) && d != "Serverless.Core");
            Assert.DoesNotContain(dependencies.Keys, d => d.StartsWith("Microsoft.Azure.Functions", StringComparison.Ordinal) || d.StartsWith("Microsoft.DurableTask", StringComparison.Ordinal));
        }

        await using (var package = await ZipFile.OpenReadAsync(core))
        {
            var entries = package.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            Assert.Contains("lib/net10.0/Serverless.Core.dll", entries);
            Assert.Contains("lib/net10.0/Serverless.Core.xml", entries);
            var nuspec = XDocument.Parse(await ReadEntryAsync(package, "Serverless.Core.nuspec"));
            Assert.Empty(nuspec.Descendants(nuspec.Root!.Name.Namespace + "dependency"));
        }
    }

    [Fact]
    public async Task AProjectOutsideTheRepository_ReferencingTheKitPackage_BuildsAndAnswersASignedPrepare()
    {
        await PackAsync();
        var repository = Path.GetFullPath(RepositoryRoot.Find());
        Assert.False(
            Path.GetFullPath(Consumer).StartsWith(repository + Path.DirectorySeparatorChar, StringComparison.Ordinal),
            $"the consumer ({Consumer}) must live outside the repository ({repository})");
        var globalPackages = await GlobalPackagesFolderAsync();
        var restored = Path.Combine(_work, "packages");
        await WriteConsumerAsync(restored, globalPackages);

        var build = await DotnetCli.RunAsync(["build", "-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false"], Consumer, BuildTimeout);
        output.WriteLine(build.Split('\n').LastOrDefault(l => l.Contains("Elapsed", StringComparison.Ordinal)) ?? "built");

        // Restored from the feed: the package, not the repository's projects.
        Assert.True(
            Directory.Exists(Path.Combine(restored, "serverless.participantkit", _version)),
            $"Serverless.ParticipantKit {_version} was not restored into {restored}");
        Assert.True(Directory.Exists(Path.Combine(restored, "serverless.core", _version)), $"Serverless.Core {_version} was not restored into {restored}");
        using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Consumer, "obj", "project.assets.json"))))
        {
            var libraries = assets.RootElement.GetProperty("libraries").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetProperty("type").GetString(), StringComparer.Ordinal);
            Assert.Equal("package", libraries[$"Serverless.ParticipantKit/{_version}"]);
            Assert.Equal("package", libraries[$"Serverless.Core/{_version}"]);
            Assert.DoesNotContain("project", libraries.Values);
        }

        var run = await DotnetCli.RunAsync(
            [Path.Combine(Consumer, "bin", "Release", "net10.0", "KitConsumer.dll")],
            Consumer,
            RunTimeout,
            new Dictionary<string, string?>
            {
                ["DEMO_COORDINATOR_KEY"] = CoordinatorKey,
                ["PARTICIPANT_DEMO_SIGNING_KEY"] = ParticipantKeyring.DeriveKey(CoordinatorKey, "demo"),
                ["COORDINATOR_STORAGE"] = "UseDevelopmentStorage=true",
                ["DOTNET_ENVIRONMENT"] = "Production",
            });
        output.WriteLine(run);

        var replies = run.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("reply ", StringComparison.Ordinal))
            .Select(l => l["reply ".Length..]).ToList();
        Assert.True(replies.Count == 3, $"expected three replies, the consumer wrote:\n{run}");
        var coordinator = ParticipantKeyring.Derived(CoordinatorKey);
        var decoded = replies.Select(text =>
        {
            Assert.True(coordinator.TryDecodeFromParticipant(text, out var reply, out var error), $"the coordinator does not take '{text}': {error}");
            return reply!;
        }).ToList();

        Assert.Equal(new ProtocolMessage(MessageKind.Vote, "order-1") { Branch = 0, Participant = "demo", Vote = Vote.Yes }, decoded[0]);
        Assert.Equal(replies[0], replies[1]);
        Assert.Equal(new ProtocolMessage(MessageKind.Ack, "order-1") { Branch = 0, Participant = "demo", Outcome = BranchOutcome.Committed }, decoded[2]);
        Assert.Contains("committed: order-1/0", run, StringComparison.Ordinal);
    }

    /// <summary>Packs Core and the kit, as built in this configuration, into the run's feed; returns the two packages.</summary>
    private async Task<(string Core, string Kit)> PackAsync()
    {
        var root = RepositoryRoot.Find();
        foreach (var project in new[] { "Serverless.Core", "Serverless.ParticipantKit" })
        {
            // --no-build: the package holds what this test run built and tests, and the repository's build output is left alone.
            await DotnetCli.RunAsync(
                [
                    "pack", Path.Combine(root, "src", project, $"{project}.csproj"),
                    "-c", DotnetCli.Configuration, "--no-build", "-nodeReuse:false",
                    "-o", Feed,
                    $"-p:Version={_version}",
                    $"-p:NuspecOutputPath={Path.Combine(_work, "nuspec", project)}{Path.DirectorySeparatorChar}",
                ],
                root,
                PackTimeout);
        }

        var core = Path.Combine(Feed, $"Serverless.Core.{_version}.nupkg");
        var kit = Path.Combine(Feed, $"Serverless.ParticipantKit.{_version}.nupkg");
        Assert.True(File.Exists(core), $"{core} was not made; the feed holds {string.Join(", ", Directory.GetFiles(Feed).Select(Path.GetFileName))}");
        Assert.True(File.Exists(kit), $"{kit} was not made; the feed holds {string.Join(", ", Directory.GetFiles(Feed).Select(Path.GetFileName))}");
        return (core, kit);
    }

    /// <summary>Where this machine keeps restored packages (the consumer restores the kit's dependencies from there, read-only).</summary>
    private async Task<string> GlobalPackagesFolderAsync()
    {
        var text = await DotnetCli.RunAsync(["nuget", "locals", "global-packages", "--list"], _work, TimeSpan.FromMinutes(1));
        var line = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("global-packages:", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"`dotnet nuget locals global-packages --list` named no folder:\n{text}");
        return line["global-packages:".Length..].Trim();
    }

    /// <summary>
    /// A console program of another team: its own nuget.config adds the run's feed to the machine's package sources (it clears
    /// none), and it restores into a folder of its own, reading what this machine already has as a fallback.
    /// </summary>
    private async Task WriteConsumerAsync(string restored, string globalPackages)
    {
        await File.WriteAllTextAsync(Path.Combine(Consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="serverless-kit-under-test" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        await File.WriteAllTextAsync(Path.Combine(Consumer, "KitConsumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <RestorePackagesPath>{restored}</RestorePackagesPath>
                <RestoreAdditionalProjectFallbackFolders>{globalPackages}</RestoreAdditionalProjectFallbackFolders>
              </PropertyGroup>
              <ItemGroup>
                <!-- The generic host and configuration, as an isolated-worker Functions app has them. -->
                <FrameworkReference Include="Microsoft.AspNetCore.App" />
                <PackageReference Include="Serverless.ParticipantKit" Version="{_version}" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(Consumer, "Program.cs"), ConsumerProgram);
    }

    private static async Task<string> ReadEntryAsync(ZipArchive package, string name)
    {
        var entry = package.GetEntry(name) ?? throw new InvalidOperationException($"the package holds no {name}");
        await using var stream = await entry.OpenAsync();
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    /// <summary>
    /// Registers participant <c>demo</c> over an in-memory resource manager with the kit's one call, starts the host, and hands
    /// the inbox a Prepare signed with demo's key (derived from the coordinator's, as the coordinator signs it), the same
    /// Prepare again, and a Commit; prints each reply signed, as the kit would send it to <c>tx-coordinator</c>.
    /// </summary>
    private const string ConsumerProgram = """
        using System.Text;
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.Extensions.Hosting;
        using Serverless.Core.Messaging;
        using Serverless.Core.Participants;
        using Serverless.Core.Protocol;
        using Serverless.ParticipantKit;

        var builder = Host.CreateApplicationBuilder(args);
        var memory = new MemoryResourceManager();
        builder.Services.AddParticipant("demo", builder.Configuration, _ => memory, BranchKind.TwoPhase);
        using var host = builder.Build();
        await host.StartAsync();
        await host.Services.GetRequiredService<ParticipantInitializer>().Initialized.WaitAsync(TimeSpan.FromSeconds(30));

        var coordinatorKey = builder.Configuration["DEMO_COORDINATOR_KEY"] ?? throw new InvalidOperationException("DEMO_COORDINATOR_KEY is not set");
        var asCoordinator = new MessageCodec(Encoding.UTF8.GetBytes(ParticipantKeyring.DeriveKey(coordinatorKey, "demo")));
        var inbox = host.Services.GetRequiredService<ParticipantInbox>();
        var signer = host.Services.GetRequiredService<ParticipantKeyring>().For("demo");
        const string operation = "{\"type\":\"hold\",\"amount\":5}";
        var prepare = asCoordinator.Encode(new ProtocolMessage(MessageKind.Prepare, "order-1") { Branch = 0, Participant = "demo", Operation = operation });

        Console.WriteLine("reply " + signer.Encode((await inbox.HandleAsync("demo", prepare))!));
        Console.WriteLine("reply " + signer.Encode((await inbox.HandleAsync("demo", prepare))!));
        var commit = asCoordinator.Encode(new ProtocolMessage(MessageKind.Commit, "order-1") { Branch = 0, Participant = "demo", Operation = operation });
        Console.WriteLine("reply " + signer.Encode((await inbox.HandleAsync("demo", commit))!));
        Console.WriteLine("committed: " + string.Join(", ", memory.Committed));
        await host.StopAsync();

        /// <summary>A resource manager that keeps its branches in memory, under the participant's decision table.</summary>
        sealed class MemoryResourceManager : IResourceManager
        {
            private readonly Dictionary<BranchKey, string> _phases = new();

            public IEnumerable<BranchKey> Committed => _phases.Where(p => p.Value == "Committed").Select(p => p.Key);

            public Task<PrepareResult> PrepareAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
            {
                lock (_phases)
                {
                    if (_phases.TryGetValue(branch, out var phase))
                    {
                        return Task.FromResult(phase == "RolledBack" ? PrepareResult.No("rolled back before its prepare") : PrepareResult.Yes);
                    }

                    _phases[branch] = "Prepared";
                    return Task.FromResult(PrepareResult.Yes);
                }
            }

            public Task CommitAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
            {
                lock (_phases)
                {
                    if (!_phases.TryGetValue(branch, out var phase) || phase is not ("Prepared" or "Committed"))
                    {
                        throw new ProtocolViolationException($"commit of {branch}, which is {phase ?? "unknown"}");
                    }

                    _phases[branch] = "Committed";
                    return Task.CompletedTask;
                }
            }

            public Task RollbackAsync(BranchKey branch, string operation, CancellationToken cancellationToken = default)
            {
                lock (_phases)
                {
                    if (_phases.TryGetValue(branch, out var phase) && phase == "Committed")
                    {
                        throw new ProtocolViolationException($"rollback of {branch}, which is committed");
                    }

                    _phases[branch] = "RolledBack";
                    return Task.CompletedTask;
                }
            }
        }
        """;
}

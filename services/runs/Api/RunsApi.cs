using System.Text.Json.Nodes;
using Baton.Contracts.Common.V1;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;
using Baton.Runs.Adapters;
using Baton.Runs.Events;
using Baton.Runs.Execution;
using Baton.Runs.Settings;
using Baton.Runs.Storage;
using Baton.Runs.Terminals;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Hosting;
using Baton.ServiceDefaults.Security;
using Baton.ServiceDefaults.Validation;
using Google.Api;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;

namespace Baton.Runs.Api;

/// <summary>The runs service's gRPC surface; every unary RPC is also its 004_* REST route through JSON transcoding.</summary>
public sealed partial class RunsApi(
    RunsStore store,
    RunManager runs,
    RunEventLog events,
    SettingsStore settings,
    CliAdapters adapters,
    TerminalHub terminals,
    TerminalService terminalService,
    GitService.GitServiceClient git,
    BatonOptions options,
    TimeProvider time,
    ILogger<RunsApi> logger) : RunsService.RunsServiceBase
{
    public override async Task<ServiceStatus> GetStatus(StatusRequest request, ServerCallContext context)
    {
        var status = StatusReporter.Describe(options);
        var byStatus = await store.CountRunsByStatusAsync(context.CancellationToken);
        long Count(string s) => byStatus.GetValueOrDefault(s);
        status.Counters["runs_running"] = Count(RunStatus.Running);
        status.Counters["runs_queued"] = Count(RunStatus.Queued);
        status.Counters["runs_paused"] = Count(RunStatus.Paused);
        status.Counters["runs_completed"] = Count(RunStatus.Completed);
        status.Counters["runs_failed"] = Count(RunStatus.Failed);
        status.Counters["runs_cancelled"] = Count(RunStatus.Cancelled);
        status.Counters["runs_stopped"] = Count(RunStatus.Cancelled) + Count(RunStatus.Completed);
        status.Counters["terminal_viewers"] = terminals.ViewerCount;
        status.Counters["sessions_active"] = runs.ActiveProcesses + terminals.EphemeralCount;
        foreach (var (cli, count) in await store.CountRunsByCliAsync(context.CancellationToken))
        {
            status.Counters[$"agent:{cli}"] = count;
        }
        return status;
    }

    // ---- projects ----

    public override async Task<Project> CreateProject(CreateProjectRequest request, ServerCallContext context)
    {
        var name = Input.Require(request.Name?.Trim(), "name", Limits.Name);
        var project = new ProjectRow(Guid.NewGuid().ToString(), name, time.GetUtcNow());
        await store.InsertProjectAsync(project, context.CancellationToken);
        try
        {
            await git.RegisterProjectAsync(new ProjectRef { ProjectId = project.Id }, cancellationToken: context.CancellationToken);
        }
        catch (RpcException ex)
        {
            await store.DeleteProjectAsync(project.Id, CancellationToken.None);
            throw new RpcException(new Status(StatusCode.Unavailable, $"the git service could not register the project: {ex.Status.Detail}"));
        }
        context.SetHttpStatus(StatusCodes.Status201Created);
        return ToProto(project, []);
    }

    public override async Task<ProjectList> ListProjects(ListProjectsRequest request, ServerCallContext context)
    {
        var list = new ProjectList();
        foreach (var project in await store.ListProjectsAsync(context.CancellationToken))
        {
            list.Projects.Add(ToProto(project, await ReposAsync(project.Id, context.CancellationToken)));
        }
        return list;
    }

    public override async Task<Project> GetProject(ProjectIdRequest request, ServerCallContext context)
    {
        var project = await RequireProjectAsync(request.Id, context.CancellationToken);
        return ToProto(project, await ReposAsync(project.Id, context.CancellationToken));
    }

    public override async Task<Empty> DeleteProject(ProjectIdRequest request, ServerCallContext context)
    {
        var project = await RequireProjectAsync(request.Id, context.CancellationToken);
        if (await runs.HasActiveRunsAsync(project.Id, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.Aborted, "project has an active run: cancel it first"));
        }
        foreach (var run in await store.ListRunsAsync(project.Id, null, context.CancellationToken))
        {
            await runs.RemoveRunAsync(run.Id, context.CancellationToken);
        }
        try
        {
            await git.DeleteProjectAsync(new ProjectRef { ProjectId = project.Id }, cancellationToken: context.CancellationToken);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
        }
        await store.DeleteProjectAsync(project.Id, context.CancellationToken);
        context.SetHttpStatus(StatusCodes.Status204NoContent);
        return new Empty();
    }

    private async Task<ProjectRow> RequireProjectAsync(string id, CancellationToken ct) =>
        await store.GetProjectAsync(id, ct) ?? throw new RpcException(new Status(StatusCode.NotFound, $"project {id} not found"));

    private async Task<IReadOnlyList<Repo>> ReposAsync(string projectId, CancellationToken ct)
    {
        try
        {
            return (await git.ListReposAsync(new ProjectRef { ProjectId = projectId }, cancellationToken: ct)).Repos;
        }
        catch (RpcException ex)
        {
            logger.LogWarning("Listing the repos of project {ProjectId} failed: {Detail}", projectId, ex.Status.Detail);
            return [];
        }
    }

    private static Project ToProto(ProjectRow project, IEnumerable<Repo> repos)
    {
        var proto = new Project { Id = project.Id, Name = project.Name, CreatedAt = Timestamp.FromDateTimeOffset(project.CreatedAt) };
        proto.Repos.AddRange(repos.Select(r => new ProjectRepo { Id = r.Id, Name = r.Name, RepoPath = r.RepoPath }));
        return proto;
    }

    // ---- terminal ----

    public override Task Terminal(IAsyncStreamReader<TerminalInput> requestStream, IServerStreamWriter<TerminalOutput> responseStream, ServerCallContext context) =>
        terminalService.RunAsync(requestStream, responseStream, context);

    // ---- logs ----

    public override async Task<HttpBody> GetRunLogs(RunIdRequest request, ServerCallContext context)
    {
        await runs.GetAsync(request.Id, context.CancellationToken);
        var path = runs.LogPath(request.Id);
        byte[] content = [];
        if (File.Exists(path))
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, context.CancellationToken);
            content = buffer.ToArray();
        }
        return new HttpBody { ContentType = "text/plain; charset=utf-8", Data = ByteString.CopyFrom(content) };
    }

    // ---- settings ----

    public override async Task<HttpBody> GetModelSettings(Empty request, ServerCallContext context) =>
        JsonBody(await settings.GetModelsJsonAsync(context.CancellationToken));

    public override async Task<HttpBody> UpdateModelSettings(HttpBody request, ServerCallContext context) =>
        JsonBody(await ValidatedAsync(() => settings.PutModelsJsonAsync(request.Data.ToStringUtf8(), context.CancellationToken)));

    public override async Task<HttpBody> GetNotificationSettings(Empty request, ServerCallContext context) =>
        JsonBody(SettingsStore.ToJson(await settings.GetNotificationsAsync(context.CancellationToken)).ToJsonString());

    public override async Task<HttpBody> UpdateNotificationSettings(HttpBody request, ServerCallContext context)
    {
        var updated = await ValidatedAsync(() => settings.PutNotificationsAsync(request.Data.ToStringUtf8(), context.CancellationToken));
        return JsonBody(SettingsStore.ToJson(updated).ToJsonString());
    }

    private static async Task<T> ValidatedAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (SettingsValidationException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
    }

    private static HttpBody JsonBody(string json) => new() { ContentType = "application/json", Data = ByteString.CopyFromUtf8(json) };

    internal static JsonObject ParseObject(string json) => JsonNode.Parse(json) as JsonObject ?? [];
}

using System.CommandLine;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Git.V1;
using Baton.Contracts.Runs.V1;

namespace Baton.Cli.Projects;

/// <summary><c>baton projects [ls|create|show|rm|add-repo]</c>.</summary>
public static class ProjectsCommands
{
    public static Command Create()
    {
        var command = new Command("projects", "List and manage projects (a project groups git repositories)");
        command.Subcommands.Add(List());
        command.Subcommands.Add(CreateProject());
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(AddRepo());
        // `baton projects` alone lists, like `baton projects ls`.
        command.SetHandler(ListAsync);
        return command;
    }

    private static Command List()
    {
        var command = new Command("ls", "List projects");
        command.Aliases.Add("list");
        command.SetHandler(ListAsync);
        return command;
    }

    private static async Task<int> ListAsync(CliContext context)
    {
        var projects = await context.Baton.Runs.ListProjectsAsync(new ListProjectsRequest(), cancellationToken: context.Cancellation);
        context.Output.List(projects.Projects, ["ID", "NAME", "REPOS", "CREATED"],
            p => [p.Id, p.Name, string.Join(", ", p.Repos.Select(r => r.Name)), Output.Time(p.CreatedAt)]);
        return ExitCodes.Ok;
    }

    private static Command CreateProject()
    {
        var name = new Argument<string>("name") { Description = "The project's name" };
        var repos = new Option<string[]>("--repo") { Description = "Add this git repository (a path; repeatable)", AllowMultipleArgumentsPerToken = false };
        var command = new Command("create", "Create a project, optionally with repositories") { name, repos };
        command.SetHandler(async context =>
        {
            var project = await context.Baton.Runs.CreateProjectAsync(new CreateProjectRequest { Name = context.Get(name) }, cancellationToken: context.Cancellation);
            foreach (var path in context.Get(repos) ?? [])
            {
                await AddRepoAsync(context, project.Id, path, null);
            }
            if (context.Get(repos) is { Length: > 0 })
            {
                project = await context.Baton.Runs.GetProjectAsync(new ProjectIdRequest { Id = project.Id }, cancellationToken: context.Cancellation);
            }
            context.Output.Done($"created project {project.Name} ({project.Id})", Output.ToJson(project));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Show()
    {
        var project = new Argument<string>("project") { Description = "Project id or name" };
        var command = new Command("show", "Show a project and its repositories") { project };
        command.SetHandler(async context =>
        {
            var found = await Lookup.ProjectAsync(context, context.Get(project));
            context.Output.Object(found, ("id", found.Id), ("name", found.Name), ("created", Output.Time(found.CreatedAt)),
                ("repos", string.Join("\n", found.Repos.Select(r => $"{r.Name}  {r.RepoPath}  ({r.Id})"))));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Remove()
    {
        var project = new Argument<string>("project") { Description = "Project id or name" };
        var command = new Command("rm", "Delete a project (its repositories stay on disk)") { project };
        command.Aliases.Add("delete");
        command.SetHandler(async context =>
        {
            var found = await Lookup.ProjectAsync(context, context.Get(project));
            await context.Baton.Runs.DeleteProjectAsync(new ProjectIdRequest { Id = found.Id }, cancellationToken: context.Cancellation);
            context.Output.Done($"deleted project {found.Name} ({found.Id})", new JsonObject { ["deleted"] = found.Id });
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command AddRepo()
    {
        var project = new Argument<string>("project") { Description = "Project id or name" };
        var path = new Argument<string>("path") { Description = "Path of a git repository on the Baton host" };
        var name = new Option<string?>("--name") { Description = "The repository's name in the project (default: the folder name)" };
        var command = new Command("add-repo", "Add a git repository to a project") { project, path, name };
        command.SetHandler(async context =>
        {
            var found = await Lookup.ProjectAsync(context, context.Get(project));
            var repo = await AddRepoAsync(context, found.Id, context.Get(path), context.Get(name));
            context.Output.Done($"added {repo.Name} ({repo.RepoPath}) to {found.Name}", Output.ToJson(repo));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<Repo> AddRepoAsync(CliContext context, string projectId, string path, string? name)
    {
        // A relative path means the caller's folder, which is Baton's too when it runs on this machine.
        var full = Path.GetFullPath(path).TrimEnd('/');
        return await context.Baton.Git.AddRepoAsync(new AddRepoRequest
        {
            ProjectId = projectId,
            RepoPath = full,
            Name = string.IsNullOrEmpty(name) ? Path.GetFileName(full) : name,
        }, cancellationToken: context.Cancellation);
    }
}

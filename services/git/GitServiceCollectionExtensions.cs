using Baton.Git.Api;
using Baton.Git.Branches;
using Baton.Git.Changes;
using Baton.Git.FileEvents;
using Baton.Git.GitHub;
using Baton.Git.Repos;
using Baton.Git.Storage;
using Baton.Git.Workspaces;
using Baton.Git.Infrastructure;
using Baton.ServiceDefaults.Configuration;
using Baton.ServiceDefaults.Validation;

namespace Baton.Git;

public static class GitServiceCollectionExtensions
{
    /// <summary>Repos, workspaces, changes, branches, git log, GitHub and file events of the git service.</summary>
    public static WebApplicationBuilder AddGitService(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(sp => GitOptions.FromConfiguration(builder.Configuration, sp.GetRequiredService<BatonOptions>()));
        services.AddSingleton<GitStore>();
        services.AddSingleton<RepoLocks>();
        services.AddSingleton<RepoService>();
        services.AddSingleton<WorkspaceService>();
        services.AddSingleton<ChangesService>();
        services.AddSingleton<BranchService>();
        services.AddSingleton<FileEventHub>();
        services.AddHostedService(sp => sp.GetRequiredService<FileEventHub>());
        services.AddHttpClient<GitHubClient>(c => c.Timeout = TimeSpan.FromSeconds(30));
        services.AddBatonGrpc(GitErrors.Map);
        return builder;
    }

    public static WebApplication MapGitService(this WebApplication app)
    {
        app.MapGrpcService<GitInternalApi>();
        app.MapGrpcService<GitRestApi>();
        return app;
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;

namespace Baton.Git.GitHub;

public sealed record GitHubPull(int Number, string HtmlUrl, string State, bool Merged, string Title);

/// <summary>
/// GitHub's REST API (create pull request, list pulls) at <c>BATON_GITHUB_API_URL</c> with the
/// token from <c>BATON_GITHUB_TOKEN</c>. The owner and repository come from the remote URL's last
/// two path segments (<c>git@github.com:owner/repo.git</c>, <c>https://github.com/owner/repo</c>).
/// </summary>
public sealed class GitHubClient(HttpClient http, GitOptions options)
{
    public const string HttpClientName = "github";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public async Task<GitHubPull> CreatePullRequestAsync(string remoteUrl, string head, string baseBranch, string title, string? body, CancellationToken ct)
    {
        var (owner, repo) = ParseRemote(remoteUrl);
        using var request = Request(HttpMethod.Post, $"repos/{owner}/{repo}/pulls");
        request.Content = JsonContent.Create(new CreatePull(title, head, baseBranch, body ?? ""), options: Json);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, $"creating the pull request for {owner}/{repo}", ct);
        }
        return ToPull((await response.Content.ReadFromJsonAsync<PullDto>(Json, ct))!);
    }

    /// <summary>The newest pull request whose head is <paramref name="branch"/>, in any state; null when there is none.</summary>
    public async Task<GitHubPull?> FindPullRequestAsync(string remoteUrl, string branch, CancellationToken ct)
    {
        var (owner, repo) = ParseRemote(remoteUrl);
        using var request = Request(HttpMethod.Get, $"repos/{owner}/{repo}/pulls?state=all&head={Uri.EscapeDataString(owner + ":" + branch)}&per_page=10");
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(response, $"listing pull requests of {owner}/{repo}", ct);
        }
        var pulls = await response.Content.ReadFromJsonAsync<List<PullDto>>(Json, ct) ?? [];
        return pulls.Count == 0 ? null : ToPull(pulls[0]);
    }

    public static (string Owner, string Repo) ParseRemote(string remoteUrl)
    {
        var url = remoteUrl.Trim();
        var scp = url.IndexOf(':', StringComparison.Ordinal);
        if (!url.Contains("://", StringComparison.Ordinal) && scp > 0 && !url.StartsWith('/'))
        {
            url = url[(scp + 1)..];
        }
        else if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && !uri.IsFile)
        {
            url = uri.AbsolutePath;
        }
        var segments = url.TrimEnd('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length < 2)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"cannot tell the GitHub owner/repo from remote {remoteUrl}"));
        }
        var repo = segments[^1].EndsWith(".git", StringComparison.Ordinal) ? segments[^1][..^4] : segments[^1];
        return (segments[^2], repo);
    }

    private HttpRequestMessage Request(HttpMethod method, string relative)
    {
        if (string.IsNullOrWhiteSpace(options.GitHubToken))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "no GitHub token configured: set BATON_GITHUB_TOKEN for the git service"));
        }
        var request = new HttpRequestMessage(method, new Uri(options.GitHubApiUrl, relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.GitHubToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("baton-git", "1.0"));
        request.Headers.Add("X-GitHub-Api-Version", "2022-11-28");
        return request;
    }

    private static async Task<RpcException> ErrorAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        string detail;
        try
        {
            using var doc = JsonDocument.Parse(text);
            detail = doc.RootElement.TryGetProperty("message", out var m) ? m.GetString() ?? text : text;
            if (doc.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                var messages = errors.EnumerateArray()
                    .Select(e => e.TryGetProperty("message", out var em) ? em.GetString() : null).Where(s => s is not null);
                detail = string.Join("; ", new[] { detail }.Concat(messages!));
            }
        }
        catch (JsonException)
        {
            detail = text;
        }
        var code = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
            HttpStatusCode.NotFound => StatusCode.NotFound,
            HttpStatusCode.UnprocessableEntity => detail.Contains("already exists", StringComparison.OrdinalIgnoreCase) ? StatusCode.AlreadyExists : StatusCode.InvalidArgument,
            _ => StatusCode.Unavailable,
        };
        return new RpcException(new Status(code, $"GitHub answered {(int)response.StatusCode} {what}: {detail}"));
    }

    private static GitHubPull ToPull(PullDto dto) =>
        new(dto.Number, dto.HtmlUrl ?? "", dto.MergedAt is not null ? "merged" : dto.State ?? "open", dto.MergedAt is not null, dto.Title ?? "");

    private sealed record CreatePull(string Title, string Head, string Base, string Body);

    private sealed record PullDto(
        int Number,
        string? HtmlUrl,
        string? State,
        string? Title,
        [property: JsonPropertyName("merged_at")] DateTimeOffset? MergedAt);
}

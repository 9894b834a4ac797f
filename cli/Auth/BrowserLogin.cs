using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Baton.Cli.Infrastructure;
using Baton.Contracts.Integrations.V1;

namespace Baton.Cli.Auth;

/// <summary>
/// <c>baton login</c> without a token when Baton has OIDC: the browser signs in at the identity provider, the
/// gateway's callback hands the session to a loopback listener (<c>callback_port</c>), and the CLI trades that
/// session for a <c>gst_api_</c> token of its own, which is what it saves (the session cookie's token is not).
/// </summary>
public static class BrowserLogin
{
    private static readonly TimeSpan LoginWait = TimeSpan.FromMinutes(5);

    public static async Task<(string Token, string TokenId)> RunAsync(CliContext context)
    {
        // REST: the login routes are open (no credentials yet), the gRPC port is not.
        using var http = new BatonClient(context.Connection with { Token = null });
        var info = await GetJsonAsync(http, "/api/v1/auth/info", context.Cancellation);
        var provider = (string?)info["provider"] ?? "none";
        if (provider is "none" or "")
        {
            throw CliException.Usage("this Baton has no single sign-on; log in with a token: 'baton login --token <token>' (the admin token BATON_TOKEN, or a gst_api_ token)");
        }
        using var callback = new LoopbackCallback();
        using var start = await http.Http.PostAsJsonAsync("/api/v1/auth/login", new JsonObject { ["state"] = callback.State, ["callback_port"] = callback.Port }, context.Cancellation);
        var started = await ReadAsync(start, "/api/v1/auth/login", context.Cancellation);
        var url = (string?)started["url"] ?? throw new CliException(ExitCodes.Error, "Baton's login answer has no url; update Baton or the CLI");
        var display = (string?)info["display_name"] is { Length: > 0 } name ? name : provider;
        Browser.Open(url, $"To log in with {display}");
        await Console.Error.WriteLineAsync("waiting for the browser to finish (Ctrl+C cancels)…");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        timeout.CancelAfter(LoginWait);
        string session;
        try
        {
            session = await callback.WaitForTokenAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Error, $"the browser login did not finish within {LoginWait.TotalMinutes:0} minutes; run 'baton login' again");
        }
        // The session logs the browser in; the CLI keeps a token of its own that 'baton logout' can revoke.
        using var asUser = new BatonClient(context.Connection with { Token = session });
        var created = await asUser.Integrations.CreateTokenAsync(new CreateTokenRequest { Name = $"baton CLI on {Environment.MachineName}" }, cancellationToken: context.Cancellation);
        return (created.Token, created.Id);
    }

    public static async Task<bool> TryRevokeAsync(CliContext context, SavedCredentials saved)
    {
        try
        {
            await context.Baton.Integrations.RevokeTokenAsync(new RevokeTokenRequest { Id = saved.TokenId }, cancellationToken: context.Cancellation);
            return true;
        }
        catch (Exception ex) when (ex is Grpc.Core.RpcException or HttpRequestException)
        {
            await Console.Error.WriteLineAsync($"warning: could not revoke the CLI's token ({ErrorTranslation.OneLine(ex.Message)}); 'baton tokens revoke {saved.TokenId}' does it later");
            return false;
        }
    }

    private static async Task<JsonObject> GetJsonAsync(BatonClient client, string path, CancellationToken cancellationToken)
    {
        using var response = await client.Http.GetAsync(path, cancellationToken);
        return await ReadAsync(response, path, cancellationToken);
    }

    private static async Task<JsonObject> ReadAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw ErrorTranslation.FromHttpStatus((int)response.StatusCode, text, path);
        }
        return JsonNode.Parse(text) as JsonObject ?? throw new CliException(ExitCodes.Error, $"{path} did not answer a JSON object");
    }
}

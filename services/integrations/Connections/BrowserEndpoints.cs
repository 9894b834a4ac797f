using System.Globalization;
using System.Net;
using System.Text;
using Baton.Integrations.Api;
using Baton.Integrations.Platform;
using Microsoft.AspNetCore.WebUtilities;

namespace Baton.Integrations.Connections;

/// <summary>
/// The browser-facing 002_* routes, which answer HTML, redirects or cookies rather than JSON:
/// the integration OAuth callback, the pending-connection chooser, and the platform login callback.
/// </summary>
public static class BrowserEndpoints
{
    public static IEndpointRouteBuilder MapBrowserEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/auth/callback", OAuthCallbackAsync);
        app.MapMethods(ConnectOutcome.PendingPath, ["GET", "POST"], PendingConnectionAsync);
        app.MapGet("/api/v1/auth/login/callback", LoginCallbackAsync);
        return app;
    }

    private static async Task OAuthCallbackAsync(HttpContext http, ConnectionService connections)
    {
        var query = http.Request.Query;
        try
        {
            var outcome = await connections.CompleteOAuthAsync(query["code"], query["state"], query["error"], query["error_description"], http.RequestAborted);
            if (outcome.PendingToken is { } token)
            {
                await WriteChooserAsync(http, await connections.GetPendingAsync(token, http.RequestAborted), token);
                return;
            }
            await WritePageAsync(http, StatusCodes.Status200OK, $"{outcome.Integration} connected", "Your connection has been saved. You can close this tab now.", "");
        }
        catch (IntegrationException ex)
        {
            await WriteErrorAsync(http, ex);
        }
    }

    private static async Task PendingConnectionAsync(HttpContext http, ConnectionService connections)
    {
        try
        {
            string? token, index, id;
            if (HttpMethods.IsPost(http.Request.Method))
            {
                if (!http.Request.HasFormContentType)
                {
                    throw new IntegrationException(StatusCodes.Status415UnsupportedMediaType, "send the chooser form as application/x-www-form-urlencoded");
                }
                var form = await http.Request.ReadFormAsync(http.RequestAborted);
                (token, index, id) = (form["pending_token"], form["candidate_index"], form["candidate_id"]);
            }
            else
            {
                (token, index, id) = (http.Request.Query["pending_token"], null, null);
            }
            if (string.IsNullOrEmpty(index) && string.IsNullOrEmpty(id))
            {
                await WriteChooserAsync(http, await connections.GetPendingAsync(token, http.RequestAborted), token!);
                return;
            }
            var integration = await connections.SelectPendingAsync(token!, index, id, http.RequestAborted);
            await WritePageAsync(http, StatusCodes.Status200OK, $"{integration} connected", "Your connection has been saved. You can close this tab now.", "");
        }
        catch (InvalidDataException)
        {
            await WriteErrorAsync(http, IntegrationException.BadRequest("invalid form body"));
        }
        catch (IntegrationException ex)
        {
            await WriteErrorAsync(http, ex);
        }
    }

    private static async Task LoginCallbackAsync(HttpContext http, PlatformLogin login, Configuration.SettingsProvider settings)
    {
        var query = http.Request.Query;
        try
        {
            var result = await login.CompleteAsync(query["code"], query["state"], query["error"], http.RequestAborted);
            http.Response.Cookies.Append(IntegrationsApi.SessionCookie, result.SessionToken,
                IntegrationsApi.SessionCookieOptions(http, settings.Current.Server, result.ExpiresAt));
            http.Response.Headers.CacheControl = "no-store";
            if (result.CallbackPort > 0)
            {
                // The CLI flow: hand the session to the loopback listener that started the login.
                var target = QueryHelpers.AddQueryString($"http://127.0.0.1:{result.CallbackPort.ToString(CultureInfo.InvariantCulture)}/",
                    new Dictionary<string, string?> { ["state"] = result.ClientState, ["token"] = result.SessionToken });
                http.Response.Redirect(target);
                return;
            }
            await http.Response.WriteAsJsonAsync(new { email = result.Email, display_name = result.DisplayName }, http.RequestAborted);
        }
        catch (IntegrationException ex)
        {
            await WriteErrorAsync(http, ex);
        }
    }

    public static Task WriteErrorAsync(HttpContext http, IntegrationException ex)
    {
        http.Response.StatusCode = ex.Status;
        http.Response.Headers.CacheControl = "no-store";
        return http.Response.WriteAsJsonAsync(new { error = ex.Message }, http.RequestAborted);
    }

    private static Task WriteChooserAsync(HttpContext http, PendingConnection pending, string token)
    {
        var items = new StringBuilder();
        for (var i = 0; i < pending.Candidates.Count; i++)
        {
            var candidate = pending.Candidates[i];
            items.Append(CultureInfo.InvariantCulture, $"""
                      <li>
                        <form method="post" action="{ConnectOutcome.PendingPath}">
                          <input type="hidden" name="pending_token" value="{Html(token)}">
                          <input type="hidden" name="candidate_index" value="{i}">
                          <button type="submit"><strong>{Html(candidate.Name)}</strong><span class="subtle">{Html(candidate.Id)}</span></button>
                        </form>
                      </li>

                """);
        }
        return WritePageAsync(http, StatusCodes.Status200OK, $"Select a {pending.Integration} connection",
            "Baton found more than one candidate. Choose the connection you want to save.", $"<ul>\n{items}</ul>",
            "If you did not expect this screen, close this tab and restart the connect flow.");
    }

    private static async Task WritePageAsync(HttpContext http, int status, string title, string message, string body, string footer = "")
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/html; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";
        await http.Response.WriteAsync($$"""
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>{{Html(title)}}</title>
              <style>
                body { margin: 0; font: 16px/1.5 system-ui, sans-serif; background: #f7f4ee; color: #221c15; min-height: 100vh; display: grid; place-items: center; padding: 20px; }
                main { width: min(100%, 640px); background: #fff; border: 1px solid #ddd4c6; border-radius: 16px; padding: 24px; }
                ul { list-style: none; margin: 20px 0 0; padding: 0; display: grid; gap: 10px; }
                button { width: 100%; border: 1px solid #ddd4c6; border-radius: 12px; background: #fff; padding: 14px 16px; text-align: left; font: inherit; cursor: pointer; }
                .subtle { display: block; margin-top: 4px; color: #5f5448; font-size: 0.92rem; }
              </style>
            </head>
            <body>
              <main>
                <h1>{{Html(title)}}</h1>
                <p>{{Html(message)}}</p>
                {{body}}
                <p class="subtle">{{Html(footer)}}</p>
              </main>
            </body>
            </html>
            """, http.RequestAborted);
    }

    private static string Html(string value) => WebUtility.HtmlEncode(value);
}

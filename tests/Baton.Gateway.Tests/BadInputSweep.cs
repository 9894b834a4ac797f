// Issue 13's sweep: every route of the route table (tests/Baton.Testing/Routes), not a hand-picked
// few, is sent a corpus of bad input through the gateway: hostile path parameters (traversal, NUL,
// option-like and revision-like names, bidi characters, 3,000-character ids), hostile query values,
// and bad bodies (duplicate keys, lone surrogates, broken UTF-8, wrong types, deep nesting, 5 MB, binary
// garbage under every media type). Every answer must be a 4xx (or the route's own 2xx/3xx), never a
// 5xx, and the system must stay ready. A new route is swept the moment it is in the route table.
using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Baton.Gateway.Tests;

public sealed class SweepFixture : IAsyncLifetime
{
    public BatonSystem System { get; private set; } = null!;

    public async Task InitializeAsync() => System = await BatonSystem.StartAsync();

    public async Task DisposeAsync() => await System.DisposeAsync();
}

[Trait("Category", "Redis")]
public sealed class BadInputSweep(SweepFixture fx) : IClassFixture<SweepFixture>
{
    /// <summary>Path parameter values, already escaped for a URL path segment.</summary>
    private static readonly string[] HostileSegments =
    [
        Uri.EscapeDataString("../../../etc/passwd"),
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "a%00b",
        new string('b', 3000),
        "-D",
        "--force",
        Uri.EscapeDataString("@{-1}"),
        "~1",
        Uri.EscapeDataString("a\u202E💥é"),
        "refs%2Fheads%2Fmain",
        "HEAD",
        "%20",
        "x.lock",
        Guid.NewGuid().ToString(),
    ];

    private const string HostileQuery =
        "?limit=-1&last_event_id=abc&after_id=-5&branch=%00&cursor=-1&lines=99999999999&before_cursor=x&types=%00&since=notadate&until=-&repo_id=..%2F..&instance=%00&token_id=-D";

    private static readonly (string ContentType, byte[] Body)[] BadBodies =
    [
        Json("""{"name":"a","name":"b","id":"x","id":"y"}"""),
        Json("""{"name":"\ud800","message":"\udc00x","task":"\ud83d"}"""),
        ("application/json", [(byte)'{', (byte)'"', (byte)'n', (byte)'"', (byte)':', (byte)'"', 0xFF, 0xFE, 0xC3, (byte)'"', (byte)'}']),
        Json("""{"name":"unterminated"""),
        Json("[]"),
        Json("null"),
        Json("\"just a string\""),
        Json("""{"name":123,"project_id":{"a":1},"agent_id":[1,2],"notify":"yes","limit":"many","max_turns":-5,"scopes":7,"enabled":"true"}"""),
        Json(new string('[', 1000) + new string(']', 1000)),
        Json("{\"name\":\"" + new string('n', 5 * 1024 * 1024) + "\"}"),
        ("application/octet-stream", Garbage(4096)),
        ("text/plain", Garbage(512)),
        ("application/yaml", Encoding.UTF8.GetBytes("version: [1\nflows: {{{\n\t- :")),
        ("application/x-www-form-urlencoded", Encoding.UTF8.GetBytes("name=%00&name=%ZZ")),
        ("application/json; charset=utf-16", Encoding.Unicode.GetBytes("{\"name\":\"x\"}")),
    ];

    public static TheoryData<string> Routes()
    {
        var data = new TheoryData<string>();
        foreach (var route in RouteTable.All)
        {
            data.Add(route.Key);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task EveryRoute_AnswersBadInputWithA4xx_NeverA5xx(string key)
    {
        var route = RouteTable.All.Single(r => r.Key == key);
        using var http = fx.System.CreateClient();
        http.Timeout = TimeSpan.FromMinutes(2);
        var failures = new ConcurrentBag<string>();

        async Task ProbeAsync(string path, (string ContentType, byte[] Body)? body)
        {
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
            if (body is { } content)
            {
                request.Content = new ByteArrayContent(content.Body);
                request.Content.Headers.TryAddWithoutValidation("Content-Type", content.ContentType);
            }
            // A route that streams (SSE, NDJSON) may answer 200 and keep the stream open: the status is what is judged.
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if ((int)response.StatusCode >= 500)
            {
                var text = route.IsStream ? "" : await response.Content.ReadAsStringAsync();
                failures.Add($"{route.Method} {Shorten(path)} [{body?.ContentType ?? "no body"}, {body?.Body.Length ?? 0} bytes] → {(int)response.StatusCode} {Shorten(text)}");
            }
        }

        var paths = HostileSegments.Select(segment => Fill(route.PathTemplate, segment)).Distinct().ToList();
        paths.Add(Fill(route.PathTemplate, Guid.NewGuid().ToString()) + HostileQuery);
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (path, _) => await ProbeAsync(path, null));

        if (route.Method is "POST" or "PUT" or "PATCH" or "DELETE")
        {
            // Bodies go to a route with an unknown id and, for routes without parameters, to the route itself.
            var target = Fill(route.PathTemplate, Guid.NewGuid().ToString());
            await Parallel.ForEachAsync(BadBodies, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (body, _) => await ProbeAsync(target, body));
        }

        Assert.True(failures.IsEmpty, $"{key}: {failures.Count} answers were 5xx:\n" + string.Join('\n', failures.Take(20)));
        using var ready = await http.GetAsync("/ready");
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"after sweeping {key}, /ready answered {(int)ready.StatusCode}: {await ready.Content.ReadAsStringAsync()}");
    }

    /// <summary>The template with every <c>{param}</c> (and <c>{param=**}</c>) replaced by <paramref name="segment"/>.</summary>
    private static string Fill(string template, string segment)
    {
        var builder = new StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            if (template[i] == '{')
            {
                var end = template.IndexOf('}', i);
                builder.Append(segment);
                i = end + 1;
                continue;
            }
            builder.Append(template[i++]);
        }
        return builder.ToString();
    }

    private static (string, byte[]) Json(string text) => ("application/json", Encoding.UTF8.GetBytes(text));

    private static byte[] Garbage(int length)
    {
        var bytes = new byte[length];
        new Random(13).NextBytes(bytes);
        return bytes;
    }

    private static string Shorten(string text) => text.Length <= 160 ? text : text[..160] + "…";
}

using System.Diagnostics;

namespace Baton.Cli.Infrastructure;

/// <summary>Opens a URL in the person's browser: <c>$BROWSER</c>, else xdg-open/open on a desktop; the URL is always printed too (SSH sessions have no browser).</summary>
public static class Browser
{
    public static void Open(string url, string what)
    {
        Console.Error.WriteLine($"{what}, open this URL in a browser:\n  {url}");
        var command = Environment.GetEnvironmentVariable("BROWSER");
        if (string.IsNullOrWhiteSpace(command))
        {
            var desktop = OperatingSystem.IsMacOS() || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY"))
                || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY"));
            command = desktop ? (OperatingSystem.IsMacOS() ? "open" : "xdg-open") : null;
        }
        if (command is null)
        {
            return;
        }
        try
        {
            // The URL is one argument of its own, never parsed by a shell.
            var start = new ProcessStartInfo(command) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(url);
            using var process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // No such program: the printed URL is the way.
        }
    }
}

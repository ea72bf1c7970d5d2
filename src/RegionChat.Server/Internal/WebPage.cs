using Microsoft.Extensions.FileProviders;

namespace RegionChat.Server.Internal;

/// <summary>The web page (wwwroot: index.html, app.js, app.css) served at "/". The files are embedded in this assembly, so
/// every host serves the page, whatever its content root.</summary>
static class WebPage
{
    public static void Use(WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(WebPage).Assembly, "RegionChat.Server.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
    }
}

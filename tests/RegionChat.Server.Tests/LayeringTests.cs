using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace RegionChat.Server.Tests;

/// <summary>Issue 11: the Server is adapters only; it speaks to the core in plain requests and region descriptions.</summary>
public class LayeringTests
{
    [Fact]
    public void TheServerUsesNoVisionOrLlmType()
    {
        // Every type the compiled Server names from another assembly is a TypeReference scoped to that assembly.
        using var pe = new PEReader(File.OpenRead(typeof(RegionChatServer).Assembly.Location));
        var md = pe.GetMetadataReader();
        var used = new List<string>();
        foreach (var handle in md.TypeReferences)
        {
            var type = md.GetTypeReference(handle);
            var scope = type.ResolutionScope;
            while (scope.Kind == HandleKind.TypeReference) scope = md.GetTypeReference((TypeReferenceHandle)scope).ResolutionScope;
            if (scope.Kind != HandleKind.AssemblyReference) continue;
            string assembly = md.GetString(md.GetAssemblyReference((AssemblyReferenceHandle)scope).Name);
            if (assembly is "RegionChat.Vision" or "RegionChat.Llm")
                used.Add($"{assembly}: {md.GetString(type.Namespace)}.{md.GetString(type.Name)}");
        }
        Assert.True(used.Count == 0, "the Server uses " + string.Join(", ", used));
    }
}

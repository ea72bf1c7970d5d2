using Microsoft.Extensions.AI;
using Grpc.Core;
using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Client;

/// <summary>
/// Microsoft.Extensions.AI's embedding generator over RegionChat's Embed: texts into the model's joint CLIP space (its
/// classifier's text tower), where <c>RegionChatClient.EmbedAsync</c> puts image regions, so a vector store indexed with
/// one can be searched with the other. Vectors are L2-normalised. Repeated texts are sent once; more than the server's
/// 1000 per call go in several calls. <see cref="EmbeddingGenerationOptions.ModelId"/> picks the model;
/// <see cref="EmbeddingGenerationOptions.Dimensions"/> must be the model's width (vectors are not shortened).
/// </summary>
public sealed partial class RegionChatEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    const int MaxTextsPerCall = 1000;
    readonly RegionChatClient client;
    readonly bool ownsClient;
    readonly EmbeddingGeneratorMetadata metadata;

    /// <summary>Wraps <paramref name="client"/> (not disposed with this one). <paramref name="defaultModelId"/> null =
    /// the server's default model.</summary>
    public RegionChatEmbeddingGenerator(RegionChatClient client, string? defaultModelId = null) : this(client, defaultModelId, owns: false) { }

    /// <summary>Connects to <paramref name="address"/> (see <see cref="RegionChatClient(string, string?)"/>).</summary>
    public RegionChatEmbeddingGenerator(string address, string? apiKey = null, string? defaultModelId = null)
        : this(new RegionChatClient(address, apiKey), defaultModelId, owns: true) { }

    RegionChatEmbeddingGenerator(RegionChatClient client, string? defaultModelId, bool owns)
    {
        this.client = client ?? throw new ArgumentNullException(nameof(client));
        ownsClient = owns;
        DefaultModelId = string.IsNullOrEmpty(defaultModelId) ? null : defaultModelId;
        metadata = new EmbeddingGeneratorMetadata(RegionChatChatClient.ProviderName, client.Address, DefaultModelId);
    }

    /// <summary>The model asked for when <see cref="EmbeddingGenerationOptions.ModelId"/> is unset; null = the server's default.</summary>
    public string? DefaultModelId { get; }

    /// <summary>One vector per value, in order; usage counts the classifier tokenizer's tokens of the texts sent.</summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var texts = values.ToList();
        var distinct = texts.Distinct(StringComparer.Ordinal).ToList();
        var vectors = new Dictionary<string, (float[] Vector, string Model)>(StringComparer.Ordinal);
        long tokens = 0;
        for (int start = 0; start < distinct.Count; start += MaxTextsPerCall)
        {
            var request = new PbV1.EmbedRequest { Model = options?.ModelId ?? DefaultModelId ?? "" };
            request.Texts.AddRange(distinct.Skip(start).Take(MaxTextsPerCall));
            PbV1.EmbedResponse response;
            try { response = await client.EmbedAsync(request, cancellationToken).ConfigureAwait(false); }
            catch (RegionChatException e) when (e.InnerException is RpcException rpc)
            {
                // The server numbers this call's texts (repeats dropped, in pieces); the caller knows its own list.
                string Caller(string text) => TextIndex().Replace(text, m => int.TryParse(m.Groups[1].ValueSpan, out int k) && k < request.Texts.Count
                    ? $"values[{texts.IndexOf(request.Texts[k])}]" : m.Value);
                throw new RegionChatException(e.Method, rpc, e.FieldViolations.Select(v => v with { Field = Caller(v.Field) }).ToArray(), Caller(e.Detail));
            }
            for (int i = 0; i < response.Texts.Count; i++) vectors[request.Texts[i]] = (response.Texts[i].Values.ToArray(), response.Model);
            tokens += response.TextTokens;
            // Checked on the first answer, before any further call.
            if (options?.Dimensions is { } dimensions && response.Texts.Count > 0 && response.Texts[0].Values.Count != dimensions)
                throw new NotSupportedException($"Dimensions: the model embeds in {response.Texts[0].Values.Count} dimensions and cannot shorten " +
                    $"them, got {dimensions}");
        }
        var created = DateTimeOffset.UtcNow;
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Select(t => new Embedding<float>(vectors[t].Vector)
            { ModelId = vectors[t].Model, CreatedAt = created }))
        {
            Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens },
        };
        return result;
    }

    /// <summary>The metadata, the wrapped <see cref="RegionChatClient"/>, or this.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey != null) return null;
        if (serviceType == typeof(EmbeddingGeneratorMetadata)) return metadata;
        if (serviceType == typeof(RegionChatClient)) return client;
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Disposes the wrapped <see cref="RegionChatClient"/> when this instance owns it.</summary>
    public void Dispose()
    {
        if (ownsClient) client.Dispose();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\btexts\[(\d+)\]")]
    private static partial System.Text.RegularExpressions.Regex TextIndex();
}

using PbV1 = RegionChat.Protos.V1;

namespace RegionChat.Server.Internal;

/// <summary>What the server serves, as ListModels (gRPC) and GET /v1/models describe it. Listing loads every model,
/// so the facts are those of the loaded files.</summary>
internal static class ModelCatalog
{
    public static PbV1.ListModelsResponse List(ModelRegistry models)
    {
        var response = new PbV1.ListModelsResponse { DefaultModel = models.DefaultModelId };
        foreach (var id in models.Manifests.Keys.Order(StringComparer.Ordinal))
        {
            var m = models.Get(id)!;
            var vc = m.Vision.Config;
            response.Models.Add(new PbV1.ModelInfo
            {
                Id = id,
                ContextSize = (uint)m.Llm.Facts.ContextSize,
                Template = m.Template.Name,
                Vision = new PbV1.VisionInfo { ImageSize = (uint)vc.InputResolution, PatchSize = (uint)vc.PatchSize, Width = (uint)vc.Width, Layers = (uint)vc.Layers, FeatureLayer = m.Manifest.Vision.FeatureLayer, Preprocess = m.Manifest.Vision.Preprocess },
                Projector = new PbV1.ProjectorInfo { Type = m.Projector.ProjectorType, InputWidth = (uint)m.Projector.InputDim, OutputWidth = (uint)m.Projector.OutputDim, VisualTokens = (uint)m.VisualTokenCount },
                Llm = new PbV1.LlmInfo { Architecture = "llama", EmbeddingLength = (uint)m.Llm.Facts.EmbeddingWidth, Layers = (uint)m.Llm.Facts.LayerCount, VocabSize = (uint)m.Llm.Facts.VocabSize, TrainContextLength = (uint)m.Llm.Facts.TrainContextLength },
            });
        }
        return response;
    }
}

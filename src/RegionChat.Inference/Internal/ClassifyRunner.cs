using System.Diagnostics;
using System.Text;
using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RegionChat.Inference.Internal;

/// <summary>
/// Zero-shot classification (behind <see cref="RegionChatCore.ClassifyAsync"/>): checks the request's size before any
/// work, resolves the image (store or bytes), draws each region, runs the Alpha-CLIP tower to its pooled output for the
/// regions not cached, takes the labels' text features from the LRU cache (model, label) or one text forward for the
/// missing ones, and ranks the labels per region by softmax over exp(logit_scale) × cosine. Embeddings
/// (<see cref="RegionChatCore.EmbedAsync"/>) are the same region and text features, returned unscored.
/// The image side is the tower's last block + ln_post + proj, a different forward from the LLaVA features of turns (the
/// second-to-last block), so it has its own small cache by (model, image id, region) instead of the visual-token cache.
/// </summary>
internal sealed class ClassifyRunner(ModelRegistry models, ImageStore images, TowerPixelCache towerPixels, VisionBatcher vision,
    RegionChatCoreOptions options, RegionChatMetrics metrics)
{
    public const int MaxLabels = 1000, MaxLabelChars = 300, MaxTextChars = 2000, MaxRegions = 16;
    const long TextCacheBytes = 64L << 20, ImageCacheBytes = 16L << 20;

    readonly record struct LabelKey(string Model, string Label);
    readonly record struct ImageKey(string Model, string ImageId, string Region);

    readonly ByteBoundedLru<LabelKey, float[]> textCache = new(TextCacheBytes, f => f.Length * 4L + 128);
    readonly ByteBoundedLru<ImageKey, float[]> imageCache = new(ImageCacheBytes, f => f.Length * 4L + 256);

    public async Task<ClassifyResult> RunAsync(ClassifyRequest request, CancellationToken ct)
    {
        using var activity = RegionChatTracing.Start("classify", request.Model, request.RequestId);
        try
        {
            var result = await ClassifyAsync(request, ct).ConfigureAwait(false);
            var t = result.Timings;
            metrics.Classified(result.Regions.Count, LabelCount(request), t.TextCacheHits, t.TotalMs);
            Tag(activity, "classify", result.Model, result.Regions.Count, LabelCount(request), t);
            return result;
        }
        catch (Exception e)
        {
            metrics.ClassifyFailed();
            RegionChatTracing.Failed(activity, e);
            throw;
        }
    }

    public async Task<EmbedResult> EmbedAsync(EmbedRequest request, CancellationToken ct)
    {
        using var activity = RegionChatTracing.Start("embeddings", request.Model, request.RequestId);
        try
        {
            var result = await EmbedCoreAsync(request, ct).ConfigureAwait(false);
            Tag(activity, "embeddings", result.Model, result.Regions.Count, result.Texts.Count, result.Timings);
            return result;
        }
        catch (Exception e)
        {
            RegionChatTracing.Failed(activity, e);
            throw;
        }
    }

    static void Tag(Activity? activity, string operation, string model, int regions, int texts, ClassifyTimings t)
    {
        if (activity == null) return;
        RegionChatTracing.Answered(activity, operation, model);
        activity.SetTag("regionchat.regions", regions);
        activity.SetTag("regionchat.texts", texts);
        activity.SetTag("regionchat.image_decode_ms", t.ImageDecodeMs);
        activity.SetTag("regionchat.vision_encode_ms", t.VisionEncodeMs);
        activity.SetTag("regionchat.text_encode_ms", t.TextEncodeMs);
        activity.SetTag("regionchat.text_cache_hits", t.TextCacheHits);
    }

    int LabelCount(ClassifyRequest request) =>
        request.LabelSet.Length > 0 && options.LabelSets.TryGetValue(request.LabelSet, out var set) ? set.Count : request.Labels.Count;

    async Task<ClassifyResult> ClassifyAsync(ClassifyRequest request, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var f = request.Fields;
        Check(request);
        var model = ClassifierModel(request.Model, f);
        var labels = request.Labels;
        bool fromSet = request.LabelSet.Length > 0;
        if (fromSet && !options.LabelSets.TryGetValue(request.LabelSet, out labels!))
            throw new RegionChatCoreException(RegionChatErrorKind.NotFound, $"label set '{ClientText.Quote(request.LabelSet)}' is not declared on this " +
                $"server (label sets: {(options.LabelSets.Count == 0 ? "none" : string.Join(", ", options.LabelSets.Keys.Order(StringComparer.Ordinal)))})",
                [new FieldError(f.LabelSet, "is not a declared label set")]);
        CheckLabels(model, labels, fromSet ? request.LabelSet : null, f);
        ct.ThrowIfCancellationRequested();

        var (imageFeatures, decodeMs, visionMs) = await RegionFeaturesAsync(model, request.Image, request.Regions, f, ct).ConfigureAwait(false);
        var (labelFeatures, hits, textMs) = await TextFeaturesAsync(model, labels, ct).ConfigureAwait(false);
        int top = request.Top <= 0 ? labels.Count : Math.Min(request.Top, labels.Count);
        var results = imageFeatures.Select(image => new RegionLabels(Rank(image, labelFeatures, labels, model.Classifier.LogitScale, top))).ToArray();
        return new ClassifyResult(model.Id, results, new ClassifyTimings(decodeMs, visionMs, textMs, total.Elapsed.TotalMilliseconds, hits));
    }

    async Task<EmbedResult> EmbedCoreAsync(EmbedRequest request, CancellationToken ct)
    {
        var total = Stopwatch.StartNew();
        var f = request.Fields;
        Check(request);
        var model = ClassifierModel(request.Model, f);
        CheckLabels(model, request.Texts, null, f);
        ct.ThrowIfCancellationRequested();

        float[][] regions = [];
        double decodeMs = 0, visionMs = 0;
        if (request.Image != null)
            (regions, decodeMs, visionMs) = await RegionFeaturesAsync(model, request.Image, request.Regions, f, ct).ConfigureAwait(false);
        var (texts, hits, textMs) = await TextFeaturesAsync(model, request.Texts, ct).ConfigureAwait(false);
        int tokens = request.Texts.Sum(t => model.Classifier.Text.Tokenizer.Tokenize(t).Ids.Length);
        return new EmbedResult(model.Id, regions, texts, new ClassifyTimings(decodeMs, visionMs, textMs, total.Elapsed.TotalMilliseconds, hits), tokens);
    }

    RegionChatModel ClassifierModel(string id, ClassifyFields f)
    {
        var model = models.Get(id) ?? throw RegionChatCoreException.NotFound(
            $"model '{ClientText.Quote(id)}' is not served here (models: {string.Join(", ", models.Manifests.Keys)})");
        if (!model.HasClassifier)
            throw new RegionChatCoreException(RegionChatErrorKind.FailedPrecondition,
                $"model '{model.Id}' has no zero-shot classifier (no \"classifier\" section in its model.json)",
                [new FieldError(f.Model, "has no classifier")]);
        return model;
    }

    /// <summary>Each label must suit the model's tokenizer; <paramref name="set"/> names the stored set they came from.</summary>
    static void CheckLabels(RegionChatModel model, IReadOnlyList<string> labels, string? set, ClassifyFields f)
    {
        for (int i = 0; i < labels.Count; i++)
        {
            try { model.Classifier.CheckLabel(labels[i]); }
            catch (ArgumentException e) when (set != null)
            {
                throw RegionChatCoreException.InvalidArgument(f.LabelSet, $"label {i} of set '{set}' does not suit model '{model.Id}': {e.Message}", e);
            }
            catch (ArgumentException e) { throw RegionChatCoreException.InvalidArgument($"{f.Labels}[{i}]", e.Message, e); }
        }
    }

    /// <summary>The normalised pooled tower features of each region (none = the whole image), from the cache or one
    /// batched forward, and the time spent decoding and in the tower.</summary>
    async Task<(float[][] Features, double DecodeMs, double VisionMs)> RegionFeaturesAsync(RegionChatModel model, ImageInput image,
        IReadOnlyList<RegionSource> requested, ClassifyFields f, CancellationToken ct)
    {
        var resolveClock = Stopwatch.StartNew();
        var (imageId, fresh) = await ResolveImageAsync(image, f, ct).ConfigureAwait(false);
        var regions = requested.Count == 0 ? [RegionSource.WholeImage] : requested;
        double decodeMs = fresh != null ? resolveClock.Elapsed.TotalMilliseconds : 0, visionMs = 0;
        var imageFeatures = new float[regions.Count][];
        var todo = new List<(int Index, PreprocessedImage Input, ImageKey Key)>();
        // The pixels of an image new to the store serve its tower input; they are let go before the forward.
        using (fresh)
        {
            for (int i = 0; i < regions.Count; i++)
            {
                var key = new ImageKey(model.Id, imageId, regions[i].CacheKey);
                if (imageCache.TryGet(key, out var cached)) { imageFeatures[i] = cached; continue; }
                if (!images.TryGet(imageId, out var stored))
                    throw RegionChatCoreException.NotFound($"image '{imageId}' was dropped from the image store; upload it again");
                string field = requested.Count == 0 ? f.Image : f.Region(i);
                try
                {
                    // The image is decoded once for all its regions (and kept for later requests about it).
                    var (input, ms) = await towerPixels.PrepareAsync(model, imageId, stored, regions[i], images.Limits, options.Regions, fresh, ct)
                        .ConfigureAwait(false);
                    todo.Add((i, input, key));
                    decodeMs += ms;
                }
                catch (InvalidRegionException e) { throw RegionChatCoreException.InvalidArgument(regions[i].ErrorField(field, e), e.Description, e); }
                catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(f.Image, e.Message, e); }
            }
        }
        if (todo.Count > 0)
        {
            var sw = Stopwatch.StartNew();
            // Through the vision thread: concurrent requests' regions go in one forward, and never beside a turn's.
            var computed = await Task.WhenAll(todo.Select(t => vision.FeaturesAsync(model, t.Input, ct))).ConfigureAwait(false);
            visionMs = sw.Elapsed.TotalMilliseconds;
            for (int k = 0; k < todo.Count; k++)
            {
                imageFeatures[todo[k].Index] = computed[k];
                imageCache.Set(todo[k].Key, computed[k]);
            }
        }
        return (imageFeatures, decodeMs, visionMs);
    }

    /// <summary>The normalised text features of each label, from the cache (model, label) or one forward of the missing
    /// distinct ones; how many were cached, and the time taken.</summary>
    async Task<(float[][] Features, int Hits, double Ms)> TextFeaturesAsync(RegionChatModel model, IReadOnlyList<string> labels, CancellationToken ct)
    {
        var textSw = Stopwatch.StartNew();
        var labelFeatures = new float[labels.Count][];
        var missing = new List<int>();
        int hits = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            if (textCache.TryGet(new LabelKey(model.Id, labels[i]), out var cached)) { labelFeatures[i] = cached; hits++; }
            else missing.Add(i);
        }
        if (missing.Count > 0)
        {
            var distinct = missing.Select(i => labels[i]).Distinct(StringComparer.Ordinal).ToArray();
            var computed = await Task.Run(() => model.Classifier.LabelFeatures(distinct), ct).ConfigureAwait(false);
            var byLabel = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (int k = 0; k < distinct.Length; k++)
            {
                byLabel[distinct[k]] = computed[k];
                // The cache counts vector bytes, not keys: texts longer than a label (embeddings') are not kept.
                if (distinct[k].Length <= MaxLabelChars) textCache.Set(new LabelKey(model.Id, distinct[k]), computed[k]);
            }
            foreach (int i in missing) labelFeatures[i] = byLabel[labels[i]];
        }
        return (labelFeatures, hits, textSw.Elapsed.TotalMilliseconds);
    }

    // The request's cost is bounded before anything runs: label count and length, region count, top.
    static void Check(ClassifyRequest request)
    {
        var f = request.Fields;
        var errors = new List<FieldError>();
        if (request.LabelSet.Length > 0)
        {
            if (request.Labels.Count > 0) errors.Add(new(f.LabelSet, "give labels or label_set, not both"));
        }
        else if (request.Labels.Count == 0) errors.Add(new(f.Labels, "needs at least one label (or a label_set)"));
        else CheckLabelList(request.Labels, f, errors);
        if (request.Regions.Count > MaxRegions) errors.Add(new(f.Regions, $"holds {request.Regions.Count} regions; the limit is {MaxRegions}"));
        if (request.Top < 0) errors.Add(new(f.Top, $"must be 0 (all) or positive, got {request.Top}"));
        if (errors.Count > 0) throw RegionChatCoreException.InvalidArgument(errors);
    }

    static void Check(EmbedRequest request)
    {
        var f = request.Fields;
        var errors = new List<FieldError>();
        if (request.Image == null && request.Texts.Count == 0) errors.Add(new(f.Image, "give an image (with or without regions), texts, or both"));
        if (request.Image == null && request.Regions.Count > 0) errors.Add(new(f.Regions, "regions need an image"));
        // Texts, unlike labels, may repeat (each gets its vector, as OpenAI's embeddings do) and be longer: what must
        // hold is that each fits the text tower's context, checked with the model.
        if (request.Texts.Count > 0) CheckLabelList(request.Texts, f, errors, MaxTextChars, repeats: true);
        if (request.Regions.Count > MaxRegions) errors.Add(new(f.Regions, $"holds {request.Regions.Count} regions; the limit is {MaxRegions}"));
        if (errors.Count > 0) throw RegionChatCoreException.InvalidArgument(errors);
    }

    /// <summary>At most <see cref="MaxLabels"/> labels of at most <paramref name="maxChars"/> characters, none empty, and
    /// none repeated unless <paramref name="repeats"/>.</summary>
    static void CheckLabelList(IReadOnlyList<string> labels, ClassifyFields f, List<FieldError> errors, int maxChars = MaxLabelChars,
        bool repeats = false)
    {
        if (labels.Count > MaxLabels)
        {
            errors.Add(new(f.Labels, $"holds {labels.Count} labels; the limit is {MaxLabels}"));
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < labels.Count && errors.Count < 8; i++)
        {
            string label = labels[i] ?? "";
            if (label.Trim().Length == 0) errors.Add(new($"{f.Labels}[{i}]", "is empty"));
            else if (label.Length > maxChars) errors.Add(new($"{f.Labels}[{i}]", $"is {label.Length} characters; the limit is {maxChars}"));
            else if (!seen.Add(label) && !repeats) errors.Add(new($"{f.Labels}[{i}]", $"repeats label '{ClientText.Quote(label)}'"));
        }
    }

    static LabelScore[] Rank(float[] image, float[][] labels, IReadOnlyList<string> names, double scale, int top)
    {
        var logits = new double[labels.Length];
        for (int j = 0; j < labels.Length; j++)
        {
            double dot = 0;
            for (int d = 0; d < image.Length; d++) dot += image[d] * (double)labels[j][d];
            logits[j] = scale * dot;
        }
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        return Enumerable.Range(0, labels.Length)
            .Select(j => new LabelScore(names[j], Math.Exp(logits[j] - max) / sum, logits[j]))
            .OrderByDescending(s => s.Logit).ThenBy(s => s.Label, StringComparer.Ordinal)
            .Take(top).ToArray();
    }

    /// <summary>The image's id, and the pixels of an image new to the store (decoded to check it; they serve the first
    /// region's tower input, and the caller disposes them).</summary>
    async Task<(string Id, Image<Rgb24>? Fresh)> ResolveImageAsync(ImageInput input, ClassifyFields f, CancellationToken ct)
    {
        if (input.Bytes is { } bytes)
        {
            if (bytes.Length > options.MaxImageBytes)
                throw RegionChatCoreException.InvalidArgument(f.ImageData, ImageSizeLimit.TooLarge(bytes.Length, options.MaxImageBytes));
            try
            {
                var (stored, fresh) = await images.PutKeepingPixelsAsync(bytes, ct).ConfigureAwait(false);
                return (stored.Id, fresh);
            }
            catch (InvalidImageException e) { throw RegionChatCoreException.InvalidArgument(f.ImageData, e.Message, e); }
        }
        if (input.StoredId is { } given)
        {
            string? id = ImageStore.NormaliseId(given);
            if (id == null) throw RegionChatCoreException.InvalidArgument(f.Image + ".image_id", "must be \"sha256:\" followed by 64 hex digits");
            if (!images.TryGet(id, out _)) throw RegionChatCoreException.NotFound($"image '{id}' is not stored here (never uploaded, or dropped from the " +
                "image store); upload it again");
            return (id, null);
        }
        throw RegionChatCoreException.InvalidArgument(f.Image, "needs data or image_id");
    }
}

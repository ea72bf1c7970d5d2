using RegionChat.Data.Regions;
using RegionChat.Vision.Imaging;
using RegionChat.Vision.Regions;

namespace RegionChat.Inference.Internal;

/// <summary>
/// Makes the vision region of a <see cref="RegionDescription"/> within a <see cref="RegionBudget"/>, with every error,
/// found now or when the region is drawn against its image, naming the field as <see cref="RegionFieldNames"/> spells
/// it. Unions are checked (depth, then size) before their parts; the parts are built as
/// <see cref="Region.From(RegionDescription, ImageLimits?, RegionCost, int)"/> builds them, so the budget and the
/// drawing rules are the same for every form.
/// </summary>
internal static class NamedRegions
{
    /// <summary>The region (<see cref="WholeImageRegion"/> for the whole image).</summary>
    public static Region Build(RegionDescription description, RegionFieldNames names, ImageLimits limits, RegionBudget budget) =>
        Build(description, "", names, limits, budget.Start(), 1);

    static Region Build(RegionDescription d, string path, RegionFieldNames names, ImageLimits limits, RegionCost cost, int depth)
    {
        switch (d)
        {
            case RegionDescription.Whole:
                // Not wrapped: the preprocessor treats the whole image specially (alpha all inside, padding included).
                return WholeImageRegion.Instance;
            case RegionDescription.Union u:
                Renamed(() => cost.Union("", 0, depth), names.Union(path, depth: true));
                if (u.Parts.Count == 0)
                    throw new InvalidRegionException(names.Union(path, depth: false), InvalidRegionReason.Malformed, "a union needs at least one region");
                Renamed(() => cost.Union("", u.Parts.Count, depth), names.Union(path, depth: false));
                return new NamedUnion(u.Parts.Select((part, i) => Build(part, names.Part(path, i), names, limits, cost, depth + 1)).ToArray());
            default:
                try { return new FieldedRegion(Region.From(d, limits, cost, depth), e => names.Leaf(path, d, e)); }
                catch (InvalidRegionException e) { throw Renamed(e, names.Leaf(path, d, e)); }
        }
    }

    static void Renamed(Action check, string field)
    {
        try { check(); }
        catch (InvalidRegionException e) { throw Renamed(e, field); }
    }

    static InvalidRegionException Renamed(InvalidRegionException e, string field) => new(field, e.Reason, e.Description, e);

    /// <summary>A region whose errors at drawing time carry the transport's field name.</summary>
    sealed class FieldedRegion(Region inner, Func<InvalidRegionException, string> field) : Region
    {
        public override string Kind => inner.Kind;

        protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
        {
            try { return inner.Rasterize(width, height, ct); }
            catch (InvalidRegionException e) { throw Renamed(e, field(e)); }
        }
    }

    /// <summary>A union whose parts already name their own fields, so unlike the vision side's
    /// <see cref="UnionRegion"/> it does not prefix their errors with "[k]".</summary>
    sealed class NamedUnion(IReadOnlyList<Region> parts) : Region
    {
        public override string Kind => "union";

        protected override RegionMask RasterizeCore(int width, int height, CancellationToken ct)
        {
            var mask = new RegionMask(width, height);
            foreach (var part in parts)
            {
                var m = part.Rasterize(width, height, ct);
                for (int i = 0; i < m.Data.Length; i++) mask.Data[i] |= m.Data[i];
            }
            return mask;
        }
    }
}

using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RegionChat.Vision;

/// <summary>
/// The optional region-position map: the centre of the region's bounding box (x, y in −1..1, read off the alpha) through
/// a learnt Linear(2, OutputDim) without bias, added to every projected visual token. It tells the LLM where the region
/// is, which the tower's features carry too weakly for a small model to read (RECIPE.md: "left of" stayed at chance
/// without it). Saved as <c>model.mm_projector.region_position.weight</c>; a projector without that tensor (every LLaVA
/// projector) projects exactly as before.
/// </summary>
public sealed partial class LlavaProjector
{
    /// <summary>The map's module name, so its parameters are <c>region_position.weight</c> (training gives it its own rate).</summary>
    public const string RegionPositionName = "region_position";
    static readonly Regex RegionPositionKey = new(@"^(?:(?:model\.)?mm_projector\.)?region_position\.weight$");

    Linear? region_position;   // the field's name is the registered module name (RegisterComponents)

    /// <summary>True when the projector holds a region-position map.</summary>
    public bool HasRegionPosition => region_position is not null;

    /// <summary>Adds a zero-initialised region-position map (so the projector's output is unchanged until it is trained);
    /// does nothing when the projector has one.</summary>
    public void AddRegionPositionMap()
    {
        if (region_position is not null) return;
        region_position = nn.Linear(2, OutputDim, hasBias: false, dtype: DType);
        using (no_grad()) region_position.weight!.zero_();
        register_module(RegionPositionName, region_position);
    }

    /// <summary>The centre of each alpha's region (pixels whose alpha is above 0, i.e. above the midpoint of the
    /// normalised alpha), as x and y in −1..1 (−1 the left / top edge): [B, 2] float32. An empty region gives (0, 0).</summary>
    public static Tensor RegionCentres(Tensor alpha)
    {
        if (alpha.dim() != 4 || alpha.shape[1] != 1)
            throw new ArgumentException($"alpha must be [B, 1, H, W], got [{string.Join(", ", alpha.shape)}]", nameof(alpha));
        using var scope = NewDisposeScope();
        using TorchSharp.Scalar zero = 0;   // every Scalar here alive past its native call (see RootedScalars)
        var inRegion = alpha[.., 0].gt(zero);                                  // [B, H, W]
        var columns = inRegion.any(1).to(ScalarType.Float32);                 // [B, W]
        var rows = inRegion.any(2).to(ScalarType.Float32);                    // [B, H]
        return stack([Centre(columns), Centre(rows)], 1).MoveToOuterDisposeScope();

        static Tensor Centre(Tensor occupied)
        {
            long n = occupied.shape[1];
            var first = occupied.argmax(1).to(ScalarType.Float32);
            using TorchSharp.Scalar lastIndex = n - 1, count = n;
            var last = occupied.flip(1).argmax(1).to(ScalarType.Float32).neg_().add_(lastIndex, RootedScalars.One);   // (n − 1) − the last's index
            // the box middle (first + last + 1) / 2 over n, to −1..1
            var centre = first.Plus(last).add_(RootedScalars.One, RootedScalars.One).div_(count).sub_(RootedScalars.One);
            return where(occupied.any(1), centre, zeros_like(centre));
        }
    }

    /// <summary>Projected tokens [B, N, D] with the region-position vector of each image's alpha [B, 1, H, W] added to all
    /// N rows (in the projector's dtype, autograd as the caller sets it); the tokens themselves without a map.</summary>
    public Tensor WithRegionPosition(Tensor projected, Tensor alpha)
    {
        if (region_position is null) return projected;
        if (projected.dim() != 3 || projected.shape[0] != alpha.shape[0])
            throw new ArgumentException($"projected tokens [{string.Join(", ", projected.shape)}] do not match alpha [{string.Join(", ", alpha.shape)}]");
        using var scope = NewDisposeScope();
        var centres = RegionCentres(alpha).to(projected.device).to(DType);
        var vector = region_position.forward(centres).to(projected.dtype).unsqueeze(1);   // [B, 1, D]
        return projected.Plus(vector).MoveToOuterDisposeScope();
    }

    static void CheckRegionPosition(Tensor weight, int outputDim)
    {
        if (weight.dim() != 2 || weight.shape[0] != outputDim || weight.shape[1] != 2)
            throw new InvalidDataException($"projector tensor mm_projector.{RegionPositionName}.weight has shape " +
                $"[{string.Join(", ", weight.shape)}] but needs [{outputDim}, 2]");
        if (!is_floating_point(weight))
            throw new InvalidDataException($"projector tensor mm_projector.{RegionPositionName}.weight has non-float dtype {weight.dtype}");
    }
}

namespace RegionChat.Vision.Imaging.Internal;

internal enum ResampleFilter { Bilinear, Bicubic }

/// <summary>Fills <paramref name="row"/> (width × channels bytes, interleaved) with image row <paramref name="y"/>.</summary>
internal delegate void RowReader(int y, Span<byte> row);

/// <summary>
/// Separable 8-bit resampling that reproduces Pillow's <c>Image.resize</c> (the reference preprocessing of CLIP and LLaVA):
/// the kernel is widened by the scale factor when shrinking (antialiasing), weights are normalised per output pixel and
/// turned into 22-bit fixed point, the horizontal pass runs first and its result is rounded and clipped to 8 bits before
/// the vertical pass. A float resampler differs from it by up to ~20 grey levels next to hard edges, where the bicubic
/// overshoot is clipped in between passes here.
/// </summary>
internal static class PilResampler
{
    const int PrecisionBits = 32 - 8 - 2;

    /// <summary>For each output position of a window: first source index, tap count and fixed-point weights (ksize apart).</summary>
    internal sealed record Axis(int[] First, int[] Count, int[] Weights, int KernelSize)
    {
        /// <summary>Sum of each output's fixed-point weights (not exactly 1 &lt;&lt; 22 after rounding): what padding contributes per unit.</summary>
        public int[] WeightSum { get; } = Enumerable.Range(0, First.Length)
            .Select(o => Weights.AsSpan(o * KernelSize, Count[o]).ToArray().Sum()).ToArray();
    }

    static double Kernel(ResampleFilter filter, double x)
    {
        x = Math.Abs(x);
        switch (filter)
        {
            case ResampleFilter.Bilinear:
                return x < 1 ? 1 - x : 0;
            default:
                const double a = -0.5; // Keys cubic, as Pillow's BICUBIC
                if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
                if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
                return 0;
        }
    }

    static double Support(ResampleFilter filter) => filter == ResampleFilter.Bilinear ? 1 : 2;

    /// <summary>Pillow's coefficients for output positions [from, from+count) of an inSize→outSize resize.</summary>
    internal static Axis Coefficients(int inSize, int outSize, ResampleFilter filter, int from, int count)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = Support(filter) * filterScale;
        int kernelSize = (int)Math.Ceiling(support) * 2 + 1;
        var first = new int[count];
        var taps = new int[count];
        var weights = new int[count * kernelSize];
        var raw = new double[kernelSize];
        for (int j = 0; j < count; j++)
        {
            double center = (from + j + 0.5) * scale;
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize);
            int n = Math.Min(max - min, kernelSize);
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                raw[i] = Kernel(filter, (i + min - center + 0.5) / filterScale);
                sum += raw[i];
            }
            for (int i = 0; i < n; i++)
            {
                double w = sum != 0 ? raw[i] / sum : raw[i];
                // Round half away from zero, as Pillow's normalize_coeffs_8bpc.
                weights[j * kernelSize + i] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            first[j] = min;
            taps[j] = n;
        }
        return new Axis(first, taps, weights, kernelSize);
    }

    static byte Clip8(int value)
    {
        if (value >= 1 << PrecisionBits << 8) return 255;
        if (value <= 0) return 0;
        return (byte)(value >> PrecisionBits);
    }

    /// <summary>
    /// Resizes <paramref name="source"/> to outWidth×outHeight and returns only the window
    /// [windowX, windowX+windowWidth) × [windowY, windowY+windowHeight) of the result, interleaved, row-major.
    /// Computing only the window equals resizing fully and cropping afterwards. Padding is never materialised: its
    /// contribution is its value times the sum of the weights that fall on it, which is the same integer sum.
    /// </summary>
    public static byte[] Resize(PaddedSource source, int outWidth, int outHeight,
        int windowX, int windowY, int windowWidth, int windowHeight, ResampleFilter filter)
    {
        if (windowX < 0 || windowY < 0 || windowX + windowWidth > outWidth || windowY + windowHeight > outHeight)
            throw new ArgumentOutOfRangeException(nameof(windowX), "window outside the output");
        int channels = source.Channels;

        Axis? horizontal = source.Width != outWidth ? Coefficients(source.Width, outWidth, filter, windowX, windowWidth) : null;
        Axis? vertical = source.Height != outHeight ? Coefficients(source.Height, outHeight, filter, windowY, windowHeight) : null;

        // Source rows the window needs.
        int rowFirst = vertical == null ? windowY : vertical.First[0];
        int rowEnd = vertical == null ? windowY + windowHeight : vertical.First[^1] + vertical.Count[^1];

        // Horizontal pass into 8-bit rows, window columns only.
        int tempStride = windowWidth * channels;
        var temp = new byte[(long)(rowEnd - rowFirst) * tempStride];
        var imageRow = new byte[source.ImageWidth * channels];
        byte[]? padRow = null;
        for (int y = rowFirst; y < rowEnd; y++)
        {
            var dest = temp.AsSpan((y - rowFirst) * tempStride, tempStride);
            int iy = y - source.ImageY;
            if (iy < 0 || iy >= source.ImageHeight)
            {
                // Rows of pure padding all resample to the same row.
                if (padRow == null)
                {
                    padRow = new byte[tempStride];
                    HorizontalRow(source, imageRow: null, horizontal, windowX, windowWidth, padRow);
                }
                padRow.CopyTo(dest);
                continue;
            }
            source.ReadImageRow(iy, imageRow);
            HorizontalRow(source, imageRow, horizontal, windowX, windowWidth, dest);
        }

        if (vertical == null) return temp;

        var result = new byte[(long)windowHeight * tempStride];
        var sums = new int[tempStride];
        for (int y = 0; y < windowHeight; y++)
        {
            int min = vertical.First[y] - rowFirst, n = vertical.Count[y], k = y * vertical.KernelSize;
            // Row by row over the taps: sequential memory access (the sums are the same integers in any order).
            Array.Fill(sums, 1 << (PrecisionBits - 1));
            for (int i = 0; i < n; i++)
            {
                int w = vertical.Weights[k + i];
                var row = temp.AsSpan((min + i) * tempStride, tempStride);
                for (int x = 0; x < row.Length; x++) sums[x] += row[x] * w;
            }
            var dest = result.AsSpan(y * tempStride, tempStride);
            for (int x = 0; x < dest.Length; x++) dest[x] = Clip8(sums[x]);
        }
        return result;
    }

    /// <summary>One row of the horizontal pass; <paramref name="imageRow"/> null = a row of padding only.</summary>
    static unsafe void HorizontalRow(PaddedSource source, byte[]? imageRow, Axis? horizontal, int windowX, int windowWidth, Span<byte> dest)
    {
        int channels = source.Channels;
        int imageStart = source.ImageX, imageEnd = imageRow == null ? imageStart : source.ImageX + source.ImageWidth;
        if (horizontal == null)
        {
            // Same width: the row itself (padding outside the image).
            for (int x = 0; x < windowWidth; x++)
            {
                int sx = windowX + x;
                for (int c = 0; c < channels; c++)
                    dest[x * channels + c] = sx >= imageStart && sx < imageEnd ? imageRow![(sx - imageStart) * channels + c] : source.Pad[c];
            }
            return;
        }
        const int half = 1 << (PrecisionBits - 1);
        fixed (byte* rowStart = imageRow)
        fixed (int* weights = horizontal.Weights)
        {
            for (int x = 0; x < windowWidth; x++)
            {
                int min = horizontal.First[x], n = horizontal.Count[x];
                int* k = weights + x * horizontal.KernelSize - min; // k[s] = weight of source column s
                int from = Math.Max(min, imageStart), to = Math.Min(min + n, imageEnd);
                int weightOnPad = horizontal.WeightSum[x];
                byte* p = rowStart + (from - imageStart) * channels;
                if (channels == 3)
                {
                    int r = half, g = half, b = half;
                    for (int s = from; s < to; s++, p += 3)
                    {
                        int w = k[s];
                        weightOnPad -= w;
                        r += p[0] * w;
                        g += p[1] * w;
                        b += p[2] * w;
                    }
                    dest[x * 3] = Clip8(r + source.Pad[0] * weightOnPad);
                    dest[x * 3 + 1] = Clip8(g + source.Pad[1] * weightOnPad);
                    dest[x * 3 + 2] = Clip8(b + source.Pad[2] * weightOnPad);
                }
                else
                {
                    for (int c = 0; c < channels; c++)
                    {
                        int sum = half, onPad = weightOnPad;
                        for (int s = from; s < to; s++)
                        {
                            sum += p[(s - from) * channels + c] * k[s];
                            onPad -= k[s];
                        }
                        dest[x * channels + c] = Clip8(sum + source.Pad[c] * onPad);
                    }
                }
            }
        }
    }
}

/// <summary>
/// A Width×Height source made of an ImageWidth×ImageHeight image at (ImageX, ImageY) surrounded by a constant
/// <see cref="Pad"/> value per channel (LLaVA's square canvas) — or, with no offset and full size, just the image.
/// </summary>
internal sealed record PaddedSource(int Width, int Height, int ImageX, int ImageY, int ImageWidth, int ImageHeight,
    byte[] Pad, RowReader ReadImageRow)
{
    public int Channels => Pad.Length;
}

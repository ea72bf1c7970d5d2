using System.Globalization;
using CsCheck;
using RegionChat.Data.Regions;

namespace RegionChat.Data.Tests.Fuzz;

/// <summary>Random and mutated input to the region JSON grammar and the COCO RLE codec: each gives a valid result or
/// an <see cref="InvalidRegionException"/>, never another exception. A failure prints the shrunk input
/// and the seed that replays it (Sample's seed argument).</summary>
public class RegionGrammarProperties
{
    const long Iterations = 3000;
    static readonly CultureInfo C = CultureInfo.InvariantCulture;

    static readonly string[] Keys =
        ["box", "polygon", "scribble", "points", "width", "rle", "size", "counts", "mask", "whole", "normalized", "fill", "x"];

    static readonly string[] Valid =
    [
        """{"box": [1, 2, 30, 40]}""",
        """{"box": [0.1, 0.2, 0.5, 0.9], "normalized": true}""",
        """{"polygon": [1, 1, 30, 2, 10, 30], "fill": "nonzero"}""",
        """{"scribble": {"points": [1, 1, 30, 30, 5, 20], "width": 3}}""",
        """{"rle": {"size": [4, 5], "counts": [3, 4, 13]}}""",
        """{"rle": {"size": [4, 5], "counts": "34c0"}}""",
        """{"whole": true}""",
        """[{"box": [1, 2, 3, 4]}, {"polygon": [[1, 1], [9, 2], [5, 8]]}, {"rle": {"size": [2, 2], "counts": [1, 3]}}]""",
    ];

    static readonly Gen<string> Number = Gen.OneOf(
        Gen.Int[-5, 300].Select(i => i.ToString(C)),
        Gen.Double.Select(d => d.ToString("R", C)),
        Gen.OneOf("1e999", "-1e999", "1e300", "-0", "0.5", "2147483648", "9223372036854775808", "-9223372036854775809", "1E-400"));

    static readonly Gen<string> Leaf = Gen.OneOf(
        Number,
        Gen.OneOf("true", "false", "null", "\"\"", "\"evenodd\"", "\"nonzero\"", "\"34c0\"", "\"data:image/png;base64,AAAA\"",
            "\"data:image/png;base64,@@\"", "\"\\u0000\"", "\"\\ud800\""),
        Gen.Char['0', 'o'].Array[0, 12].Select(a => "\"" + new string(a).Replace("\\", "", StringComparison.Ordinal) + "\""));

    /// <summary>JSON built from the grammar's own words, nested up to four levels: mostly near-misses of valid regions.</summary>
    static readonly Gen<string> Json = Gen.Recursive<string>((depth, json) => depth >= 4 ? Leaf : Gen.Frequency(
        (3, Leaf),
        (2, json.Array[0, 7].Select(items => "[" + string.Join(",", items) + "]")),
        (3, Gen.Select(Gen.OneOf(Keys), json).Array[0, 3].Select(members =>
            "{" + string.Join(",", members.Select(m => $"\"{m.Item1}\": {m.Item2}")) + "}"))));

    /// <summary>A valid region with a few characters deleted, inserted or replaced.</summary>
    static readonly Gen<string> Mutated = Gen.Select(Gen.OneOf(Valid), Gen.Select(Gen.Int[0, 2], Gen.Double[0, 1], Gen.Char[' ', '~']).Array[1, 4])
        .Select(t =>
        {
            var s = new System.Text.StringBuilder(t.Item1);
            foreach (var (op, where, c) in t.Item2)
            {
                int at = (int)(where * s.Length);
                if (op == 0 && s.Length > 0) s.Remove(Math.Min(at, s.Length - 1), 1);
                else if (op == 1) s.Insert(at, c);
                else if (s.Length > 0) s[Math.Min(at, s.Length - 1)] = c;
            }
            return s.ToString();
        });

    [Fact]
    public void AnyRegionJsonParsesOrIsRefusedByField()
    {
        Gen.Frequency((3, Json), (2, Mutated), (1, Gen.OneOf(Valid))).Sample(json =>
        {
            RegionDescription parsed;
            try
            {
                parsed = RegionDescription.Parse(json, baseDirectory: "/nonexistent");
            }
            catch (InvalidRegionException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Field));
                return;
            }
            // What parses writes back to JSON that parses to the same JSON again.
            string written = parsed.ToJson();
            Assert.Equal(written, RegionDescription.Parse(written, "/nonexistent").ToJson());
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void AnyCompressedRleStringDecodesToItsSizeOrIsRefused()
    {
        Gen.Select(Gen.Int[0, 40], Gen.Int[0, 40], Gen.Char['\u0020', '\u0080'].Array[0, 40]).Sample((h, w, chars) =>
        {
            CocoRle rle;
            try
            {
                rle = CocoRle.FromString(h, w, new string(chars));
            }
            catch (InvalidRegionException)
            {
                return;
            }
            var mask = rle.Decode(1);
            Assert.Equal(h * w, mask.Length);
            Assert.Equal(rle.ToCompressedString(), CocoRle.FromString(h, w, rle.ToCompressedString()).ToCompressedString());
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void AnyCountsListDecodesToItsSizeOrIsRefused()
    {
        var counts = Gen.Frequency((6, Gen.Long[0, 30]), (1, Gen.OneOf(-1L, long.MaxValue, int.MaxValue + 1L, 1L << 40)));
        Gen.Select(Gen.Int[0, 30], Gen.Int[0, 30], counts.Array[0, 20]).Sample((h, w, list) =>
        {
            CocoRle rle;
            try
            {
                rle = new CocoRle(h, w, list);
            }
            catch (InvalidRegionException)
            {
                return;
            }
            Assert.Equal(h * w, rle.Decode(1).Length);
        }, iter: Iterations, threads: 1);
    }

    [Fact]
    public void EveryMaskSurvivesEncodeAndDecode()
    {
        Gen.Select(Gen.Int[1, 24], Gen.Int[1, 24]).SelectMany((h, w) => Gen.Select(Gen.Const(h), Gen.Const(w), Gen.Bool.Array[h * w]))
            .Sample((h, w, bits) =>
            {
                byte[] mask = [.. bits.Select(b => b ? (byte)1 : (byte)0)];
                var rle = CocoRle.FromString(h, w, CocoRle.Encode(mask, h, w).ToCompressedString());
                Assert.Equal(mask, rle.Decode(1));
            }, iter: Iterations, threads: 1);
    }
}

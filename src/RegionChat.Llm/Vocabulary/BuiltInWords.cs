namespace RegionChat.Llm.Vocabulary;

/// <summary>A small English word list (lower case, no punctuation) for synthetic vocabularies and tests.</summary>
public static class BuiltInWords
{
    public static IReadOnlyList<string> English { get; } =
    (
        "the a an and or but of to in on at by for with from as is are was were be been being it this that these those " +
        "there here what which who whom whose where when why how not no yes all any some many much more most few less " +
        "one two three four five six seven eight nine ten first second last next other another each every both same " +
        "i you he she we they me him her us them my your his its our their mine yours " +
        "do does did done have has had make makes made go goes went see sees saw seen look looks looking show shows " +
        "say says said tell tells ask asks answer give gives take takes put sit sits stand stands hold holds wear wears " +
        "play plays run runs walk walks eat eats ride rides fly flies read reads write writes open close " +
        "image picture photo region area box part left right top bottom middle center front back side near far " +
        "above below under over behind inside outside between next beside around across along " +
        "man woman men women person people boy girl child children player team crowd " +
        "cat dog horse cow sheep bird elephant bear zebra giraffe animal fish " +
        "car bus truck train bike bicycle motorcycle boat plane airplane street road sign light traffic " +
        "table chair bed couch sofa desk door window wall floor room kitchen plate cup bowl bottle glass knife fork spoon " +
        "pizza cake sandwich banana apple orange food water snow grass tree trees sky cloud clouds sun field beach " +
        "shirt hat jacket dress shoe shoes bag umbrella ball kite phone laptop screen book clock " +
        "red blue green yellow white black brown gray grey pink purple dark bright " +
        "big small large little long short tall old young new good great nice happy " +
        "very also just only then than so too up down out into onto off " +
        "describe detail details detailed caption object objects thing things color colour shape size scene background " +
        "chat assistant user human question questions helpful polite answers curious artificial intelligence " +
        "hello world please thank thanks sure"
    ).Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToArray();
}

using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using RegionChat.Inference;
using RegionChat.Training.Evaluation.Internal;
using RegionChat.Training.Llava;
using RegionChat.Data.Shapes;

namespace RegionChat.Training.Evaluation;

/// <summary>
/// The chat part of `eval shapes`: conversations on one session each, through the core's turn
/// (<see cref="RegionChatCore.RunTurnAsync"/>: the session keeps its KV history and each later turn is a follow-up, as on
/// the server). Per
/// scene with two or more objects, two conversations of five turns, each answer left in the history as generated:
/// 1. object i with its mask, "describe this region";
/// 2. object j (another one) with its mask, "describe this region" — scored as a later region;
/// 3. a follow-up about j, no image (the three follow-ups in turn) — scored as a follow-up;
/// 4. a relation question about j against i, no image (the four in turn) — scored as a relation;
/// 5. an object of the next scene with its mask, "describe this region" — scored as a new image.
/// The second conversation swaps the roles of i and j.
/// </summary>
public static class ShapesChatEval
{
    /// <summary>Turns per conversation.</summary>
    public const int Turns = 5;

    /// <summary>Positions a conversation needs: three images and five turns of text and answers.</summary>
    public static int PositionsPerChat(int visualTokens, int maxTokens) => 3 * visualTokens + Turns * (24 + maxTokens);

    public static async Task<ShapesChatScores> RunAsync(RegionChatCore core, IReadOnlyList<ShapesScene> scenes, ShapesEvalOptions options,
        Action<ShapesEvalProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var chats = Conversations(scenes);
        // Each scene a conversation shows is stored once; a region's visual tokens come from the core's cache after its
        // first encode.
        var imageIds = new Dictionary<int, string>();
        foreach (int s in chats.SelectMany(c => c.Shown).Select(r => r.Scene).Distinct())
            imageIds[s] = (await core.PutImageAsync(ShapesModelEvaluator.ScenePng(scenes[s]), ct: cancellationToken).ConfigureAwait(false)).Id;
        var answers = new string[chats.Count][];
        int done = 0;
        using var gate = new SemaphoreSlim(options.Parallel);
        await Task.WhenAll(chats.Select((chat, c) => Task.Run(async () =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                answers[c] = await AnswerAsync(core, chat, scenes, imageIds, options.MaxTokens, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
            progress?.Invoke(new ShapesEvalProgress("chat", Interlocked.Increment(ref done), chats.Count, clock.Elapsed));
        }, cancellationToken))).ConfigureAwait(false);
        return ShapesChatScores.Score(chats, answers, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The conversations for a list of scenes (see the type's summary).</summary>
    public static IReadOnlyList<ShapesChat> Conversations(IReadOnlyList<ShapesScene> scenes)
    {
        var chats = new List<ShapesChat>();
        for (int s = 0; s < scenes.Count; s++)
        {
            int n = scenes[s].Objects.Count;
            if (n < 2) continue;
            var next = scenes[(s + 1) % scenes.Count];
            for (int k = 0; k < 2; k++)
            {
                int i = (s + k) % n, j = (i + 1) % n;
                if (k == 1) (i, j) = (j, i);
                var (a, b) = (scenes[s].Objects[i], scenes[s].Objects[j]);
                var newObject = next.Objects[(s + k) % next.Objects.Count];
                string followUp = ShapesChatText.FollowUpQuestions[(s + k) % ShapesChatText.FollowUpQuestions.Count];
                string relation = ShapesChatText.RelationQuestions[(2 * s + k) % ShapesChatText.RelationQuestions.Count];
                chats.Add(new ShapesChat(
                [
                    new ShapesChatTurn(ShapesChatTurnKind.First, (s, i), ShapesText.DescribeRegion, a.Caption),
                    new ShapesChatTurn(ShapesChatTurnKind.LaterRegion, (s, j), ShapesText.DescribeRegion, b.Caption),
                    new ShapesChatTurn(ShapesChatTurnKind.FollowUp, null, followUp, ShapesChatText.FollowUpAnswer(followUp, b)),
                    new ShapesChatTurn(ShapesChatTurnKind.Relation, null, relation, ShapesChatText.RelationAnswer(relation, b, a)),
                    new ShapesChatTurn(ShapesChatTurnKind.NewImage, ((s + 1) % scenes.Count, newObject.Index), ShapesText.DescribeRegion, newObject.Caption),
                ]));
            }
        }
        return chats;
    }

    /// <summary>One conversation on one session of the core, turn after turn, each answer left in the history.</summary>
    static async Task<string[]> AnswerAsync(RegionChatCore core, ShapesChat chat, IReadOnlyList<ShapesScene> scenes,
        IReadOnlyDictionary<int, string> imageIds, int maxTokens, CancellationToken cancellationToken)
    {
        string session = "";
        var answers = new string[chat.Turns.Count];
        try
        {
            for (int t = 0; t < chat.Turns.Count; t++)
            {
                var turn = chat.Turns[t];
                var image = turn.Shows is { } r
                    ? new TurnImage(ImageInput.FromStoredId(imageIds[r.Scene]),
                        RegionSource.Of(ZeroShotOnModel.MaskOf(scenes[r.Scene].Objects[r.Object]), $"mask:{r.Object}"))
                    : null;
                var request = new TurnRequest
                {
                    SessionId = session, Messages = [TurnMessage.User(turn.Question, image)],
                    Sampling = new SamplingOptions { MaxTokens = maxTokens }, KeepSession = true,
                };
                var text = new StringBuilder();
                TurnFinished? finished = null;
                await foreach (var e in core.RunTurnAsync(request, cancellationToken).ConfigureAwait(false))
                {
                    if (e is TurnStarted s) session = s.SessionId;
                    else if (e is TurnText piece) text.Append(piece.Text);
                    else if (e is TurnFinished f) finished = f;
                }
                if (finished is null || finished.Reason == TurnFinishReason.Cancelled)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    throw new InvalidOperationException($"turn {t + 1} ('{turn.Question}') ended without an answer");
                }
                answers[t] = text.ToString().Trim();
            }
        }
        finally
        {
            if (session.Length > 0)
            {
                try { core.EndSession(session); }
                catch (RegionChatCoreException e) when (e.Kind == RegionChatErrorKind.NotFound) { } // evicted: gone already
            }
        }
        return answers;
    }
}

/// <summary>What a turn of an evaluated conversation is scored as.</summary>
public enum ShapesChatTurnKind { First, LaterRegion, FollowUp, Relation, NewImage }

/// <summary>One turn: the region it shows (scene index, object index; null: no image), the question and the expected answer.</summary>
public sealed record ShapesChatTurn(ShapesChatTurnKind Kind, (int Scene, int Object)? Shows, string Question, string Expected);

/// <summary>One evaluated conversation.</summary>
public sealed record ShapesChat(IReadOnlyList<ShapesChatTurn> Turns)
{
    public IEnumerable<(int Scene, int Object)> Shown => Turns.Where(t => t.Shows is not null).Select(t => t.Shows!.Value);
}

/// <summary>
/// The chat figures: exact-match accuracy of later-region captions, follow-ups, relation questions (with the share of
/// "yes" truths, so chance is visible) and new-image captions.
/// </summary>
public sealed record ShapesChatScores(int Conversations, ShapesEvalFraction LaterRegion, ShapesEvalFraction FollowUp,
    ShapesEvalFraction Relation, ShapesEvalFraction RelationYes, ShapesEvalFraction NewImage, double Seconds)
{
    /// <summary>Relation accuracy per question, in <see cref="ShapesChatText.RelationQuestions"/> order, with each one's
    /// share of "yes" truths (which relation the model cannot yet tell shows here).</summary>
    public IReadOnlyList<(string Question, ShapesEvalFraction Accuracy, ShapesEvalFraction Yes)> RelationByQuestion { get; init; } = [];

    public static ShapesChatScores Score(IReadOnlyList<ShapesChat> chats, IReadOnlyList<string[]> answers, double seconds)
    {
        var tally = new Dictionary<ShapesChatTurnKind, (int Correct, int Total)>();
        int yes = 0, relations = 0;
        for (int c = 0; c < chats.Count; c++)
            for (int t = 0; t < chats[c].Turns.Count; t++)
            {
                var turn = chats[c].Turns[t];
                var (ok, total) = tally.GetValueOrDefault(turn.Kind);
                tally[turn.Kind] = (ok + (ShapesLlavaEvaluator.Matches(answers[c][t], turn.Expected) ? 1 : 0), total + 1);
                if (turn.Kind == ShapesChatTurnKind.Relation)
                {
                    relations++;
                    if (turn.Expected == ShapesChatText.Yes) yes++;
                }
            }
        ShapesEvalFraction Of(ShapesChatTurnKind kind) => tally.TryGetValue(kind, out var v) ? new(v.Correct, v.Total) : new(0, 0);
        var byQuestion = ShapesChatText.RelationQuestions.Select(q =>
        {
            var asked = chats.SelectMany((chat, c) => chat.Turns.Select((turn, t) => (turn, answer: answers[c][t])))
                .Where(x => x.turn.Kind == ShapesChatTurnKind.Relation && x.turn.Question == q).ToList();
            return (q, new ShapesEvalFraction(asked.Count(x => ShapesLlavaEvaluator.Matches(x.answer, x.turn.Expected)), asked.Count),
                new ShapesEvalFraction(asked.Count(x => x.turn.Expected == ShapesChatText.Yes), asked.Count));
        }).ToList();
        return new ShapesChatScores(chats.Count, Of(ShapesChatTurnKind.LaterRegion), Of(ShapesChatTurnKind.FollowUp),
            Of(ShapesChatTurnKind.Relation), new ShapesEvalFraction(yes, relations), Of(ShapesChatTurnKind.NewImage), seconds)
        { RelationByQuestion = byQuestion };
    }

    /// <summary>The "multi_turn" object of --json (fractions; null = nothing measured).</summary>
    public JsonObject ToJson() => new()
    {
        ["later_region_exact"] = Fraction(LaterRegion), ["followup"] = Fraction(FollowUp), ["relation"] = Fraction(Relation),
        ["relation_yes_share"] = Fraction(RelationYes), ["new_image"] = Fraction(NewImage), ["conversations"] = Conversations,
        ["relation_by_question"] = new JsonObject(RelationByQuestion.Select(r => KeyValuePair.Create(r.Question,
            (JsonNode?)new JsonObject { ["accuracy"] = Fraction(r.Accuracy), ["yes_share"] = Fraction(r.Yes) }))),
    };

    /// <summary>The table's chat section (Markdown).</summary>
    public string Table()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var t = new StringBuilder();
        t.AppendLine("| Chat (turns 2+, one session) | later region caption (mask) | follow-up | relation yes/no | new image caption (mask) |");
        t.AppendLine("|---|---|---|---|---|");
        t.AppendLine($"| accuracy | {Percent(LaterRegion)} | {Percent(FollowUp)} | {Percent(Relation)} | {Percent(NewImage)} |");
        t.AppendLine();
        t.Append(string.Create(c, $"{Conversations} conversations of {ShapesChatEval.Turns} turns (two per scene with 2+ objects), {Seconds:F1} s; ") +
                 string.Create(c, $"relation truths \"yes\": {Percent(RelationYes)} (always \"no\" scores {1 - RelationYes.Value:P1})."));
        if (RelationByQuestion.Count > 0)
            t.AppendLine().Append("Relations by question: ").Append(string.Join("; ", RelationByQuestion.Select(r =>
                $"\"{r.Question}\" {Percent(r.Accuracy)}, \"yes\" {Percent(r.Yes)}"))).Append('.');
        return t.ToString();
    }

    static string Percent(ShapesEvalFraction f) =>
        double.IsNaN(f.Value) ? "n/a" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{f.Value:P1} ({f})");

    static JsonNode? Fraction(ShapesEvalFraction f) => double.IsNaN(f.Value) ? null : JsonValue.Create(Math.Round(f.Value, 6));
}

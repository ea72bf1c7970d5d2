#!/usr/bin/env bash
# Coverage-guided fuzzing of one input surface with AFL++ (Debian's afl++) through SharpFuzz:
#   tests/RegionChat.Fuzz/fuzz.sh TARGET [SECONDS] [OUT]      TARGET: region-json | rle | image | gguf | answer-format | all
# Builds the harness (Release) into artifacts/fuzz-bin, instruments the assemblies under test once, and runs afl-fuzz
# from corpus/TARGET for SECONDS (default 600) into OUT (default artifacts/fuzz/TARGET). Exits 1 when AFL++ found a
# crash: replay one uninstrumented, `dotnet run --project tests/RegionChat.Fuzz -- TARGET OUT/default/crashes/id:…`.
# Exit 2: it could not run (afl++ not installable, AFL++ refused to start). .ci/run calls it with a short time per target. Installs afl++ (apt) and SharpFuzz.CommandLine (dotnet tool) if missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${1:?usage: fuzz.sh region-json|rle|image|gguf|answer-format|all [SECONDS] [OUT]}
seconds=${2:-600}
if [ "$target" = all ]; then
  rc=0
  for t in region-json rle image gguf answer-format; do
    "$0" "$t" "$seconds" && r=0 || r=$?
    if [ "$r" -eq 1 ]; then rc=1; elif [ "$r" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=$r; fi
  done
  exit $rc
fi
[ -d "$here/corpus/$target" ] || { echo "fuzz.sh: no corpus/$target (targets: region-json rle image gguf answer-format)" >&2; exit 2; }
out=${3:-$root/artifacts/fuzz/$target}

if ! command -v afl-fuzz >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++; } >/dev/null 2>&1 \
    || { echo "fuzz.sh: afl-fuzz is missing and apt-get could not install afl++" >&2; exit 2; }
fi
tools=$root/artifacts/fuzz-tools
[ -x "$tools/sharpfuzz" ] || dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
bin=$root/artifacts/fuzz-bin
# A build from before a change to the harness or the code under test would fuzz the old code: build again then.
if [ -f "$bin/.instrumented" ] && [ -n "$(find "$root/src" "$here" \( -name obj -o -name bin \) -prune -o -name '*.cs' -newer "$bin/.instrumented" -print -quit)" ]; then
  rm -rf "$bin"
fi
if [ ! -f "$bin/.instrumented" ]; then
  dotnet build "$here/RegionChat.Fuzz.csproj" -c Release -o "$bin" -v q -nologo >/dev/null
  # What the targets exercise: the project's parsers and ImageSharp's decoders.
  for dll in RegionChat.Data.dll RegionChat.Vision.dll RegionChat.Llm.dll SixLabors.ImageSharp.dll; do
    "$tools/sharpfuzz" "$bin/$dll" >/dev/null
  done
  touch "$bin/.instrumented"
fi

export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
rm -rf "$out"
mkdir -p "$out"
afl-fuzz -i "$here/corpus/$target" -o "$out" -t 10000 -m none -V "$seconds" -- dotnet "$bin/RegionChat.Fuzz.dll" "$target" \
  > "$out/afl.log" 2>&1 || { tail -20 "$out/afl.log" >&2; exit 2; }
# The gguf target reads its input through a scratch file per harness process; AFL++ kills the processes, so their files
# stay behind: remove those whose process is gone.
for f in "${TMPDIR:-/tmp}"/regionchat-fuzz-*.gguf; do
  [ -e "$f" ] || continue
  pid=${f##*-}; pid=${pid%.gguf}
  kill -0 "$pid" 2>/dev/null || rm -f "$f"
done
stats=$out/default/fuzzer_stats
execs=$(awk -F': *' '$1 ~ /execs_done/ {print $2}' "$stats")
paths=$(awk -F': *' '$1 ~ /corpus_count/ {print $2}' "$stats")
crashes=$(find "$out/default/crashes" -type f ! -name README.txt | wc -l)
echo "fuzz $target: ${seconds}s, $execs executions, $paths inputs in the queue, $crashes crashes ($out)"
[ "$crashes" -eq 0 ]

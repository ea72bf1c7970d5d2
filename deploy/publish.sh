#!/usr/bin/env bash
# Publishes the RegionChat server and the regionchat CLI for linux-x64 (framework-dependent: needs the ASP.NET Core 10
# runtime) into one folder, with the embedded shapes-tiny model in its models/. deploy/docker/Dockerfile runs exactly
# this; tests/RegionChat.Cli.Tests/Deploy/PublishScriptTests.cs runs it and serves from the output.
#
#   deploy/publish.sh OUTPUT_DIR [dotnet publish arguments…]
#   deploy/publish.sh out/regionchat                          # Release, CPU
#   deploy/publish.sh out/regionchat -p:Accelerator=cuda12    # the CUDA 12 backends (see README "GPU")
#
# REGIONCHAT_PUBLISH_CONFIGURATION=Debug publishes the Debug build (the test does, with --no-build, to reuse its build).
# Then: dotnet OUTPUT_DIR/RegionChat.Server.dll (the server; settings as in README "Server configuration"), or
# OUTPUT_DIR/regionchat VERB … (the CLI).
set -euo pipefail
if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: deploy/publish.sh OUTPUT_DIR [dotnet publish arguments…]" >&2
  exit 2
fi
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
shift
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# RegionChatPatchGlibcxx=always: the output may run on another machine than the build (an SDK image on Ubuntu 24.04,
# a runtime on Debian 12), so TorchSharp's libstdc++ marker version is made weak whatever this machine has.
common=(-c "${REGIONCHAT_PUBLISH_CONFIGURATION:-Release}" -r linux-x64 --self-contained false -p:RegionChatPatchGlibcxx=always -o "$out" -nologo -v quiet)
dotnet publish "$repo/src/RegionChat.Server/RegionChat.Server.csproj" "${common[@]}" "$@"
dotnet publish "$repo/src/RegionChat.Cli/RegionChat.Cli.csproj" "${common[@]}" "$@"
# The real-weights manifests, so `regionchat pull ID` run from the folder (the image's WORKDIR) finds deploy/ID/model.json.
for manifest in "$repo"/deploy/*/model.json; do
  [ -e "$manifest" ] || continue
  id="$(basename "$(dirname "$manifest")")"
  mkdir -p "$out/deploy/$id"
  cp "$manifest" "$out/deploy/$id/model.json"
done
for f in RegionChat.Server.dll regionchat.dll models/shapes-tiny/model.json libLibTorchSharp.so; do
  [ -e "$out/$f" ] || { echo "publish.sh: $out/$f is missing" >&2; exit 1; }
done
echo "published the server (RegionChat.Server.dll), the CLI (regionchat), models/shapes-tiny and the deploy/*/model.json manifests to $out"

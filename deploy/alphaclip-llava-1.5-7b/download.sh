#!/usr/bin/env bash
# Installs the real weights for Alpha-CLIP + LLaVA-1.5-7B into models/alphaclip-llava-1.5-7b/ with `regionchat pull`
# (resumable, SHA-256 checked; see models/README.md). About 7.6 GB: LLM 4.08 GB + mmproj 0.62 GB + the Alpha-CLIP
# ViT-L/14@336 checkpoint (about 1.2 GB) + CLIP ViT-L/14@336 for the classifier (about 1.7 GB). Three of the four files
# have no published hash, hence --allow-unverified.
# Extra arguments go to pull, e.g. --mirror http://mirror.local:8080 or --models /data/models.
#   deploy/alphaclip-llava-1.5-7b/download.sh   # then: dotnet run --project src/RegionChat.Server -- --RegionChat:DefaultModel=alphaclip-llava-1.5-7b
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v regionchat >/dev/null 2>&1; then
  exec regionchat pull alphaclip-llava-1.5-7b --allow-unverified "$@"
fi
exec dotnet run --project src/RegionChat.Cli -- pull alphaclip-llava-1.5-7b --allow-unverified "$@"

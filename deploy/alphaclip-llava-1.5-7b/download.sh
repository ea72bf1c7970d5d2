#!/usr/bin/env bash
# Fetches the real weights for the Alpha-CLIP + LLaVA-1.5-7B model into models/alphaclip-llava-1.5-7b/ and installs the
# manifest beside them. Needs internet access (not available on the project's build machines, where this script has
# not been run). About 4.6 GB.
#   deploy/alphaclip-llava-1.5-7b/download.sh            # then: dotnet run --project src/RegionChat.Server -- --RegionChat:DefaultModel=alphaclip-llava-1.5-7b
# Override a source with ALPHACLIP_URL, LLAVA_GGUF_URL or MMPROJ_URL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../../models/alphaclip-llava-1.5-7b"
mkdir -p "$dest"
ALPHACLIP_URL=${ALPHACLIP_URL:-https://download.openxlab.org.cn/models/SunzeY/AlphaCLIP/weight/clip_l14_336_grit1m_fultune_8xe.pth}
LLAVA_GGUF_URL=${LLAVA_GGUF_URL:-https://huggingface.co/mys/ggml_llava-v1.5-7b/resolve/main/ggml-model-q4_k.gguf}
MMPROJ_URL=${MMPROJ_URL:-https://huggingface.co/mys/ggml_llava-v1.5-7b/resolve/main/mmproj-model-f16.gguf}
fetch() { # url file
  if [ -s "$dest/$2" ]; then echo "have $2"; return; fi
  echo "fetching $2"
  curl -fL --retry 3 -C - -o "$dest/$2.partial" "$1" && mv "$dest/$2.partial" "$dest/$2"
}
fetch "$ALPHACLIP_URL" clip_l14_336_grit1m_fultune_8xe.pth
fetch "$LLAVA_GGUF_URL" ggml-model-q4_k.gguf
fetch "$MMPROJ_URL" mmproj-model-f16.gguf
cp "$here/model.json" "$dest/model.json"
echo "installed $dest; check it with: dotnet run --project src/RegionChat.Cli -- llm info $dest/ggml-model-q4_k.gguf"

#!/usr/bin/env bash
# Regenerates the speech fixtures in this directory: short synthetic speech samples in several
# voices and languages, 16 kHz mono 16-bit PCM WAV, for codec, jitter-buffer and demo quality tests.
#
# Needs espeak-ng and sox (Debian: `apt-get install espeak-ng sox`). The WAVs are committed, so
# neither tests nor CI run this; rerun it only to change the set. Output depends on the espeak-ng
# and sox versions (recorded in README.md), so a rerun may differ in the last bits.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | espeak-ng voice | speed (words/min) | pitch (0-99) | text
while IFS='|' read -r name voice speed pitch text; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/$name.wav" "$text"
  # 22.05 kHz from espeak-ng -> 16 kHz mono 16-bit, high-quality resampler, 0.1 s of silence
  # before and after (PESQ wants a quiet lead-in), then -1 dBFS peak normalisation; -D: no
  # dither, so a rerun with the same tool versions is bit-identical.
  sox -D "$tmp/$name.wav" -r 16000 -c 1 -b 16 "$name.wav" rate -v pad 0.1 0.1 norm -1
done <<'LIST'
en-male|en-us|150|45|The quick brown fox jumps over the lazy dog while the birds sing in the garden.
en-female|en-gb+f3|160|60|Please call me back tomorrow morning, the meeting has moved to half past nine.
de-male|de|150|40|Heute ist das Wetter schön, wir gehen am Nachmittag im Park spazieren.
fr-female|fr+f2|155|55|Bonjour, je voudrais réserver une table pour deux personnes ce soir.
es-male|es|160|50|El tren de las ocho llega con retraso, pero llegaremos a tiempo a la cena.
LIST

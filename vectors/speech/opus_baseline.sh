#!/bin/sh
# libopus baseline for the MLow encoder's quality report: encodes each speech fixture (and, if
# given, synth_mic.raw) with opusenc at 19 and 9 kbit/s, 60 ms frames, voice tuning, and decodes
# at 16 kHz into OUT_DIR as <name>.<bitrate>.wav. Score them with
#   OPUS_DIR=OUT_DIR cargo test --release -p wacall-core --test mlow_encoder measure -- --ignored --nocapture
# Needs opus-tools (opusenc, opusdec). Usage: opus_baseline.sh OUT_DIR [synth_mic.raw]
set -eu
out=$1
mic=${2:-}
here=$(dirname "$0")
mkdir -p "$out"
for bps in 19000 9000; do
    kbps=$((bps / 1000))
    for wav in "$here"/*.wav; do
        name=$(basename "$wav")
        opusenc --quiet --bitrate "$kbps" --framesize 60 --speech "$wav" "$out/$name.$bps.opus"
        opusdec --quiet --rate 16000 "$out/$name.$bps.opus" "$out/$name.$bps.wav"
    done
    if [ -n "$mic" ]; then
        opusenc --quiet --raw --raw-rate 16000 --raw-chan 1 --bitrate "$kbps" --framesize 60 \
            --speech "$mic" "$out/synth_mic.raw.$bps.opus"
        opusdec --quiet --rate 16000 "$out/synth_mic.raw.$bps.opus" "$out/synth_mic.raw.$bps.wav"
    fi
done

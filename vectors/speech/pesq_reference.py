#!/usr/bin/env python3
"""Scores degraded speech with the ITU-T P.862.2 reference code, for pesq-wb-reference.json.

Usage:
  WACALL_WRITE_DEGRADED=DIR cargo test -p wacall-testkit pesq_wb_agrees   # writes DIR/<fixture>__<kind>.wav
  python3 vectors/speech/pesq_reference.py DIR > vectors/speech/pesq-wb-reference.json

Needs `pip install pesq numpy` (PyPI `pesq` wraps the ITU reference C implementation). Only for
regenerating the JSON; tests never run it.
"""
import glob
import json
import os
import sys
import wave

import numpy as np
import pesq

HERE = os.path.dirname(os.path.abspath(__file__))


def read(path):
    with wave.open(path) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2), path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32)


cases = []
for deg in sorted(glob.glob(os.path.join(sys.argv[1], "*__*.wav"))):
    fixture, kind = os.path.basename(deg)[:-4].split("__")
    ref = read(os.path.join(HERE, fixture + ".wav"))
    score = pesq.pesq(16000, ref, read(deg), "wb")
    cases.append({"fixture": fixture, "degradation": kind, "mos_lqo": round(float(score), 4)})

print(json.dumps({
    "source": "ITU-T P.862.2 reference code via PyPI pesq " + getattr(pesq, "__version__", "0.0.4")
              + " (mode 'wb'), on degradations rebuilt by wacall-testkit quality tests",
    "kind": "pesq-wb",
    "tolerance": 0.002,
    "cases": cases,
}, indent=1))

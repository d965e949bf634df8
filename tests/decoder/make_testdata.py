"""Test data for the decoder/pipeline/API tests, written into OUT_DIR:

- ``spm40.model``: a 40-piece SentencePiece model (qasr ids: bos 0, pad 1, eos 2, unk 3);
- ``tiny-spm.qasr``: a randomly initialised tiny fp32 model using it (for end-to-end tests
  once the engine runtime exists);
- ``tiny-spm.expected.json``: decode.py's beam search (beam 4) of that model on the bundled
  samples, the reference the C++ transcription must reproduce.

    PYTHONPATH=tools /usr/bin/python3 tests/decoder/make_testdata.py OUT_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from qasr import decode
from qasr.export.container import DEFAULT_FEATURE_CONFIG, write_model
from qasr.export.fp32 import folded_state_dict
from qasr.features import file_features
from qasr.model import build_model
from qasr.tokenizer import train_sentencepiece

ROOT = Path(__file__).resolve().parents[2]
TEXT = """their insults are wordy and overblown but they have talent
to many total abstinence is easier than perfect moderation
drink as many as needed to perfect drinking technique
the cat sat on the mat and the dog ran to the park
a quick brown fox jumps over the lazy dog near the river bank
speech recognition turns sound into words one piece at a time
"""


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    text = out / "spm_text.txt"
    text.write_text(TEXT * 20)
    spm = train_sentencepiece(text, out / "spm40", vocab_size=40)
    torch.manual_seed(0)
    model = build_model("tiny", vocab_size=40).eval()
    write_model(out / "tiny-spm.qasr", model.cfg, folded_state_dict(model), spm.read_bytes(),
                {"purpose": "random tiny fp32 with a real tokenizer"}, DEFAULT_FEATURE_CONFIG)
    expected = {}
    cfg = decode.BeamConfig(beam=4, nbest=1)
    with torch.no_grad():
        for wav in sorted((ROOT / "models" / "samples").glob("*.wav")):
            feats, _ = file_features(wav)
            hyps = decode.beam_search(model, feats[None], torch.tensor([feats.size(0)]), cfg)[0]
            expected[wav.name] = {"tokens": hyps[0].tokens if hyps else [], "score": hyps[0].score if hyps else None}
    (out / "tiny-spm.expected.json").write_text(json.dumps(expected, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

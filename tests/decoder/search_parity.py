"""Writes search-parity cases: decode.py's beam and greedy search run on a fake decoder.

The fake decoder's logits are a fixed pseudo-random function of the prefix. Every row it
computes is recorded after the same ``torch.log_softmax`` decode.py applies, keyed by prefix,
so the C++ search reads bit-identical log-probabilities and must reproduce decode.py's n-best
token sequences and scores.

    PYTHONPATH=tools /usr/bin/python3 tests/decoder/search_parity.py OUT.json
"""
from __future__ import annotations

import json
import random
import sys
import zlib
from typing import Dict, List, Tuple

import numpy as np
import torch

from qasr import decode
from qasr.model import Decoder


class _Cfg:
    vgg: List[object] = []


class _Encoder:
    def __call__(self, feats: torch.Tensor, lengths: torch.Tensor):
        return torch.zeros(feats.size(0), feats.size(1), 1), None


class _FakeDecoder:
    def __init__(self, vocab: int, scale: float, eos_target: int, eos_slope: float, seed: int) -> None:
        self.vocab, self.scale, self.eos_target, self.eos_slope, self.seed = vocab, scale, eos_target, eos_slope, seed
        self.table: Dict[Tuple[int, ...], List[float]] = {}

    def logits(self, prefix: Tuple[int, ...]) -> np.ndarray:
        h = zlib.crc32(np.asarray((self.seed,) + prefix, dtype=np.int64).tobytes())
        x = np.random.default_rng(h).random(self.vocab) * self.scale
        x[2] += self.eos_slope * (len(prefix) - self.eos_target)
        return x.astype(np.float32)

    def init_state(self, enc: torch.Tensor, mask):
        return {"conv": [torch.zeros(enc.size(0), 0, dtype=torch.long)], "layers": [], "enc_mask": None}

    def step(self, tokens: torch.Tensor, state) -> torch.Tensor:
        hist = torch.cat([state["conv"][0], tokens[:, None].long()], dim=1)
        state["conv"][0] = hist
        prefixes = [tuple(int(t) for t in row[1:]) for row in hist]
        logits = torch.from_numpy(np.stack([self.logits(p) for p in prefixes]))
        lp = torch.log_softmax(logits.float(), dim=-1)
        for p, row in zip(prefixes, lp):
            self.table.setdefault(p, row.tolist())
        return logits


class _FakeModel:
    def __init__(self, dec: _FakeDecoder) -> None:
        self.cfg, self.encoder, self.decoder = _Cfg(), _Encoder(), dec

    def eval(self) -> "_FakeModel":
        return self


def make_case(i: int) -> Dict[str, object]:
    r = random.Random(i)
    vocab = r.choice([5, 6, 10, 30, 200])
    beam = r.choice([1, 2, 3, 4, 5, 8])
    frames = r.randint(3, 40)
    cfg = decode.BeamConfig(
        beam=beam,
        nbest=r.choice([1, beam, beam + 2]),
        max_len_a=r.choice([0.0, 0.5, 1.3]),
        max_len_b=r.choice([1, 2, 5, 12, 200]),
        min_len=r.choice([1, 1, 3]),
        len_pen=r.choice([1.0, 1.0, 0.5, 1.7]),
        normalize_scores=r.random() < 0.8,
        no_repeat_ngram_size=r.choice([0, 0, 0, 1, 2, 3]),
    )
    dec = _FakeDecoder(vocab, r.choice([1.5, 4.0, 12.0]), r.randint(2, 25), r.choice([0.0, 0.3, 1.0]), i)
    model = _FakeModel(dec)
    feats = torch.zeros(1, frames, 1)
    lengths = torch.tensor([frames])
    hyps = decode.beam_search(model, feats, lengths, cfg)[0]  # type: ignore[arg-type]
    joint = None
    if r.random() < 0.6:  # joint CTC/attention search on a random CTC table
        logits = np.random.default_rng(1000 + i).normal(0.0, r.choice([1.0, 3.0, 8.0]), (frames, vocab + 1))
        table = torch.log_softmax(torch.from_numpy(logits).float(), dim=-1).numpy()
        jcfg = decode.BeamConfig(**{k: getattr(cfg, k) for k in cfg.__dataclass_fields__})
        jcfg.ctc_weight = r.choice([0.3, 0.5, 0.8])
        jcfg.ctc_pre_beam = r.choice([0, 0, 3, vocab])
        jh = decode.beam_search(model, feats, lengths, jcfg, ctc_log_probs=[table])[0]  # type: ignore[arg-type]
        joint = {
            "weight": jcfg.ctc_weight,
            "pre_beam": jcfg.ctc_pre_beam,
            "log_probs": table.tolist(),
            "nbest": [{"tokens": h.tokens, "score": h.score, "log_prob": h.log_prob} for h in jh],
        }
    greedy = None
    if cfg.min_len == 1:
        greedy = decode.greedy_search(model, feats, lengths, cfg.max_len_a, cfg.max_len_b)[0]  # type: ignore[arg-type]
    return {
        "vocab": vocab,
        "frames": frames,
        "options": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "nbest": [{"tokens": h.tokens, "score": h.score, "log_prob": h.log_prob} for h in hyps],
        "greedy": greedy,
        "joint": joint,
        "table": [[list(p), lp] for p, lp in dec.table.items()],
    }


def main() -> int:
    assert Decoder.reorder_state is not None
    torch.manual_seed(0)
    cases = [make_case(i) for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 120)]
    with open(sys.argv[1], "w") as f:
        json.dump({"cases": cases}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())

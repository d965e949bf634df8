"""Reference data for the C++ graph executor's parity test (tests/engine/vggtransformer_test.cc).

``python3 -m qasr.export engine-fixture --out DIR`` builds the ``tiny`` VGGTransformer with
random non-trivial weights (LayerNorm affine and biases included), exports it FP32 and
quantized with bundled recipes, and writes, per variant ``V``:

  V.qasr                 the model
  V.enc_a.npy            encoder output of utterance a (no padding)
  V.enc_bpad.npy         encoder output of utterance b inside a zero-padded batch (masked)
  V.logp_a.npy           decoder log-probs of the forced plan on a, rows of every step stacked
  V.logp_bpad.npy        the same on the padded b (cross-attention masked)
plus ``feats_a.npy``, ``feats_bpad.npy`` (b zero-padded to a's length), ``plan.json`` (per step:
parents, tokens; encoder steps of b) and ``fp32.enc_b.npy`` (b alone). ``odd`` is an FP32
model exercising the other branches of the architecture (post-LN, adapters, no-LayerNorm
blocks, other kernel and pool sizes). Quantized variants are the
toolkit's fake-quant forward (what QAT trains and the kernels compute up to fp32 rounding).

Joint CTC/attention search (qasr.ctc_head, qasr.decode): ``fp32.qasr`` also carries a random
CTC head (``ctc_head.weight`` [41, 96], ``ctc_head.bias`` [41], blank 40; the other files have
none), and

  fp32.ctc_logp_a.npy    CTC log-probs float32 [T_a, 41] of a (its encoder output, unpadded)
  fp32.ctc_logp_b.npy    the same for b alone [T_b, 41]
  fp32.ctc_logp_bpad.npy the same from b's valid frames inside the zero-padded batch
  ctc_joint.json         per utterance a, b (features: feats_a, the first frames_b rows of
                         feats_bpad, unpadded) and CTC weight 0.3, 0.5: the joint beam search
                         (beam 5, default pre-beam, BeamConfig defaults otherwise, nbest 5) run on
                         the unpadded encoder output and those log-probs: best "tokens", its
                         "score" / "log_prob" / "ctc_log_prob", the "nbest" list, every step's
                         ranked candidates ("steps") and "min_margin" (smallest gap between
                         consecutive distinct ranked joint scores or at a pre-beam boundary).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np
import torch

from ..model import (EOS_ID, ConvDecConfig, TransformerLayerConfig, VGGBlockConfig, VGGTransformer,
                     VGGTransformerConfig, build_model, encoder_lengths)
from ..quant.api import quantize_model
from .fp32 import folded_state_dict
from .container import write_model, DEFAULT_FEATURE_CONFIG
from .quantized import export_quantized_model
from .testdata import FAKE_SPM
from ..ctc_head import ctc_log_probs, head_tensors
from ..decode import BeamConfig, Hypothesis, beam_search, joint_beam_search

VOCAB = 40
FRAMES_A, FRAMES_B = 67, 45
RECIPES = ("w8", "w4g64", "w3g64", "w2g32", "w4g64_f32act")
# The random CTC head: weights N(0, (2/sqrt(D))^2), biases N(0, 0.5^2), blank bias + 6 (CTC
# output mostly blank, as a trained head's). Seed 17 gives short searches (2 to 4 tokens, with
# repeated labels) whose decisions are at least 5e-4 apart (the tests require 2e-4).
CTC_HEAD_SEED, CTC_HEAD_SCALE, CTC_HEAD_BLANK_BIAS = 17, 2.0, 6.0
CTC_WEIGHTS = (0.3, 0.5)
CTC_BEAM = 5
# (parents, tokens) per step: step 0 expands one hypothesis, later steps reorder non-trivially.
PLAN = [
    ([0], [EOS_ID]),
    ([0, 0, 0], [5, 7, 9]),
    ([2, 0, 1], [11, 5, 3]),
    ([1, 1, 2], [4, 6, 8]),
    ([2, 0], [2, 13]),
    ([1, 0, 0], [17, 19, 21]),
]


# Every other branch of the architecture: a VGG block without LayerNorm, kernel 5 and pool 3;
# post-LN layers, adapters between layers of different widths, 3-head attention, decoder convs
# without LayerNorm and with kernels 4 and 2, two decoder layers.
ODD_CONFIG = VGGTransformerConfig(
    vocab_size=VOCAB,
    vgg=(VGGBlockConfig(4, 5, 3, 1, False), VGGBlockConfig(6, 3, 2, 2, True)),
    encoder_layers=(TransformerLayerConfig(64, 2, 96, False, 0, 0, 0), TransformerLayerConfig(48, 3, 80, True, 0, 0, 0)),
    enc_output_dim=40,
    tgt_embed_dim=24,
    decoder_conv=(ConvDecConfig(32, 4, False), ConvDecConfig(36, 2, True)),
    decoder_layers=(TransformerLayerConfig(40, 4, 64, False, 0, 0, 0), TransformerLayerConfig(40, 2, 72, True, 0, 0, 0)),
)


def random_model(seed: int = 0, config: object = "tiny") -> VGGTransformer:
    torch.manual_seed(seed)
    model = build_model(config, vocab_size=VOCAB).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight_g"):
                p.mul_(1.0 + 0.3 * torch.rand_like(p))
            elif p.dim() == 1 and name.endswith(".weight"):  # LayerNorm gain
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn_like(p))
    return model


@torch.no_grad()
def decode_plan(model: VGGTransformer, enc: torch.Tensor, mask) -> np.ndarray:
    dec = model.decoder
    state = dec.init_state(enc, mask)
    rows: List[np.ndarray] = []
    for i, (parents, tokens) in enumerate(PLAN):
        if i > 0:
            state = dec.reorder_state(state, torch.tensor(parents))
        elif len(parents) != enc.size(0):
            raise ValueError("step 0 must have one hypothesis per encoder row")
        logits = dec.step(torch.tensor(tokens), state)
        rows.append(torch.log_softmax(logits.float(), dim=-1).numpy())
    return np.concatenate(rows, axis=0).astype(np.float32)


@torch.no_grad()
def references(model: VGGTransformer, feats_a: torch.Tensor, feats_bpad: torch.Tensor) -> Dict[str, np.ndarray]:
    enc_a, mask_a = model.encoder(feats_a[None], torch.tensor([FRAMES_A]))
    batch = torch.stack([feats_a, feats_bpad])
    enc_batch, mask = model.encoder(batch, torch.tensor([FRAMES_A, FRAMES_B]))
    assert mask_a is None and mask is not None
    return {
        "enc_a": enc_a[0].numpy(),
        "enc_bpad": enc_batch[1].numpy(),
        "logp_a": decode_plan(model, enc_a, None),
        "logp_bpad": decode_plan(model, enc_batch[1:2], mask[1:2]),
    }


def random_ctc_head(dim: int, vocab: int = VOCAB, seed: int = CTC_HEAD_SEED) -> torch.nn.Linear:
    """The fixture's CTC head (drawn from its own generator: the global RNG is untouched)."""
    g = torch.Generator().manual_seed(seed)
    head = torch.nn.utils.skip_init(torch.nn.Linear, dim, vocab + 1)
    with torch.no_grad():
        head.weight.copy_(torch.randn(vocab + 1, dim, generator=g) * (CTC_HEAD_SCALE / dim**0.5))
        head.bias.copy_(0.5 * torch.randn(vocab + 1, generator=g))
        head.bias[vocab] += CTC_HEAD_BLANK_BIAS
    return head.eval()


def _min_margin(trace: List[Dict[str, Any]]) -> float:
    """Smallest gap between consecutive distinct ranked joint scores (the walk and the first
    candidate left out; scores at the -1e30 sentinel scale excluded) or at a pre-beam boundary."""
    gaps: List[float] = []
    for s in trace:
        j = [v for v in s["joint"] + ([s["next_joint"]] if s["next_joint"] is not None else []) if v > -1e20]
        gaps += [a - b for a, b in zip(j, j[1:]) if a != b]
        gaps += [g for g in s["pre_gap"] if g > 0]
    return min(gaps, default=float("inf"))


def _hyp(h: Hypothesis) -> Dict[str, Any]:
    return {"tokens": h.tokens, "score": h.score, "log_prob": h.log_prob, "ctc_log_prob": h.ctc_log_prob}


@torch.no_grad()
def ctc_references(model: VGGTransformer, head: torch.nn.Linear, feats_a: torch.Tensor,
                   feats_bpad: torch.Tensor) -> "tuple[Dict[str, np.ndarray], Dict[str, Any]]":
    """CTC log-prob arrays and the ``ctc_joint.json`` object (joint searches of a and b)."""
    arrays: Dict[str, np.ndarray] = {}
    utts: List[Dict[str, Any]] = []
    searches: List[Dict[str, Any]] = []
    for name, feats, frames, source in (("a", feats_a, FRAMES_A, "feats_a.npy"), ("b", feats_bpad[:FRAMES_B], FRAMES_B, "feats_bpad.npy")):
        enc, _ = model.encoder(feats[None], torch.tensor([frames]))
        x = ctc_log_probs(head, enc[0])
        arrays[f"ctc_logp_{name}"] = x
        utts.append({"name": name, "features": source, "frames": frames, "enc_frames": int(enc.size(1)),
                     "ctc_log_probs": f"fp32.ctc_logp_{name}.npy"})
        for w in CTC_WEIGHTS:
            cfg = BeamConfig(beam=CTC_BEAM, nbest=CTC_BEAM, ctc_weight=w)
            max_len = max(1, int(cfg.max_len_a * enc.size(1) + cfg.max_len_b))
            trace: List[Dict[str, Any]] = []
            nbest = joint_beam_search(model, enc, x, max_len, cfg, trace)
            again = beam_search(model, feats[None], torch.tensor([frames]), cfg, ctc_head=head)[0]
            assert [_hyp(h) for h in again] == [_hyp(h) for h in nbest], "beam_search and joint_beam_search disagree"
            searches.append({"utterance": name, "ctc_weight": w, "options": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
                             "max_len": max_len, **_hyp(nbest[0]), "nbest": [_hyp(h) for h in nbest],
                             "min_margin": _min_margin(trace), "steps": trace})
    batch = torch.stack([feats_a, feats_bpad])
    enc_batch, _ = model.encoder(batch, torch.tensor([FRAMES_A, FRAMES_B]))
    valid_b = int(encoder_lengths(torch.tensor([FRAMES_B]), model.cfg.vgg)[0])
    arrays["ctc_logp_bpad"] = ctc_log_probs(head, enc_batch[1, :valid_b])
    utts[1]["ctc_log_probs_padded"] = "fp32.ctc_logp_bpad.npy"
    joint = {"model": "fp32.qasr", "classes": VOCAB + 1, "blank": VOCAB,
             "head": {"seed": CTC_HEAD_SEED, "scale": CTC_HEAD_SCALE, "blank_bias": CTC_HEAD_BLANK_BIAS},
             "utterances": utts, "searches": searches}
    return arrays, joint


def make_engine_fixture(out: Union[str, Path]) -> List[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    model = random_model()
    g = torch.Generator().manual_seed(1)
    feats_a = torch.randn(FRAMES_A, 80, generator=g)
    feats_bpad = torch.zeros(FRAMES_A, 80)
    feats_bpad[:FRAMES_B] = torch.randn(FRAMES_B, 80, generator=g)
    written: List[Path] = []

    def save(name: str, arr: np.ndarray) -> None:
        path = out / f"{name}.npy"
        np.save(path, np.ascontiguousarray(arr, dtype=np.float32))
        written.append(path)

    save("feats_a", feats_a.numpy())
    save("feats_bpad", feats_bpad.numpy())
    odd = random_model(2, ODD_CONFIG)
    valid_b = {name: int(encoder_lengths(torch.tensor([FRAMES_B]), m.cfg.vgg)[0])
               for name, m in (("fp32", model), ("odd", odd))}
    plan = {"steps": [{"parents": p, "tokens": t} for p, t in PLAN], "frames_a": FRAMES_A,
            "frames_b": FRAMES_B, "vocab": VOCAB, "recipes": list(RECIPES), "enc_valid_b": valid_b}
    (out / "plan.json").write_text(json.dumps(plan, indent=1))
    written.append(out / "plan.json")

    write_model(out / "odd.qasr", odd.cfg, folded_state_dict(odd), FAKE_SPM, {}, DEFAULT_FEATURE_CONFIG)
    written.append(out / "odd.qasr")
    for key, arr in references(odd, feats_a, feats_bpad).items():
        save(f"odd.{key}", arr)

    head = random_ctc_head(model.cfg.enc_output_dim)
    write_model(out / "fp32.qasr", model.cfg, {**folded_state_dict(model), **head_tensors(head)}, FAKE_SPM,
                {"exporter": "qasr.export engine-fixture", "quantization": {"recipe": "none"},
                 "ctc_head": {"tool": "qasr.export engine-fixture", "random": True, "seed": CTC_HEAD_SEED}},
                DEFAULT_FEATURE_CONFIG)
    written.append(out / "fp32.qasr")
    for key, arr in references(model, feats_a, feats_bpad).items():
        save(f"fp32.{key}", arr)
    with torch.no_grad():
        enc_b, _ = model.encoder(feats_bpad[None, :FRAMES_B], torch.tensor([FRAMES_B]))
    save("fp32.enc_b", enc_b[0].numpy())
    ctc_arrays, joint = ctc_references(model, head, feats_a, feats_bpad)
    for key, arr in ctc_arrays.items():
        save(f"fp32.{key}", arr)
    (out / "ctc_joint.json").write_text(json.dumps(joint, indent=1))
    written.append(out / "ctc_joint.json")

    for recipe in RECIPES:
        qmodel = quantize_model(copy.deepcopy(model), recipe, init="minmax").eval()
        export_quantized_model(qmodel, FAKE_SPM, out / f"{recipe}.qasr", recipe)
        written.append(out / f"{recipe}.qasr")
        for key, arr in references(qmodel, feats_a, feats_bpad).items():
            save(f"{recipe}.{key}", arr)
    return written

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
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Dict, List, Union

import numpy as np
import torch

from ..model import (EOS_ID, ConvDecConfig, TransformerLayerConfig, VGGBlockConfig, VGGTransformer,
                     VGGTransformerConfig, build_model, encoder_lengths)
from ..quant.api import quantize_model
from .fp32 import folded_state_dict
from .container import write_model, DEFAULT_FEATURE_CONFIG
from .quantized import export_quantized_model
from .testdata import FAKE_SPM

VOCAB = 40
FRAMES_A, FRAMES_B = 67, 45
RECIPES = ("w8", "w4g64", "w3g64", "w2g32", "w4g64_f32act")
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

    write_model(out / "fp32.qasr", model.cfg, folded_state_dict(model), FAKE_SPM,
                {"exporter": "qasr.export engine-fixture", "quantization": {"recipe": "none"}},
                DEFAULT_FEATURE_CONFIG)
    written.append(out / "fp32.qasr")
    for key, arr in references(model, feats_a, feats_bpad).items():
        save(f"fp32.{key}", arr)
    with torch.no_grad():
        enc_b, _ = model.encoder(feats_bpad[None, :FRAMES_B], torch.tensor([FRAMES_B]))
    save("fp32.enc_b", enc_b[0].numpy())

    for recipe in RECIPES:
        qmodel = quantize_model(copy.deepcopy(model), recipe, init="minmax").eval()
        export_quantized_model(qmodel, FAKE_SPM, out / f"{recipe}.qasr", recipe)
        written.append(out / f"{recipe}.qasr")
        for key, arr in references(qmodel, feats_a, feats_bpad).items():
            save(f"{recipe}.{key}", arr)
    return written

"""Quantized checkpoints, packed-blob export and calibration data.

A quantized checkpoint (``model-quant.pt``) is the float model's config, the recipe
and the ``state_dict`` of the quantized model (latent weights plus ``*.wq.scale`` /
``*.wq.zero``): loading it and fake-quantizing reproduces the exported codes exactly.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

from ..model import VGGTransformer, VGGTransformerConfig
from .api import load_recipe, quant_layers, quantize_model
from .modules import QuantSpec

FORMAT = "qasr-vggtransformer-quant-pt"


def recipe_to_json(recipe: List[Tuple[str, Optional[QuantSpec]]]) -> Dict[str, Any]:
    """Recipe rules as the JSON ``layers`` object (order kept)."""
    return {p: None if s is None else {"bits": s.bits, "group": s.group, "symmetric": s.symmetric, "act_bits": s.act_bits} for p, s in recipe}


def load_float(path: Union[str, Path]) -> VGGTransformer:
    """Float model from an FP32 ``.qasr`` file, an inference export or a training checkpoint
    (``config`` + ``model``)."""
    if Path(path).suffix == ".qasr":
        from ..export.load import load_fp32_model

        return load_fp32_model(path)[0]
    obj = torch.load(path, map_location="cpu")
    model = VGGTransformer(VGGTransformerConfig.from_dict(obj["config"]))
    model.load_state_dict(obj["model"])
    return model.eval()


def save_quantized(model: VGGTransformer, recipe: Any, path: Union[str, Path], extra: Optional[Dict[str, Any]] = None) -> None:
    """Writes a quantized checkpoint atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obj = {
        "format": FORMAT,
        "version": 1,
        "config": model.cfg.to_dict(),
        "recipe": recipe_to_json(load_recipe(recipe)),
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }
    obj.update(extra or {})
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_quantized(path: Union[str, Path]) -> VGGTransformer:
    """Inverse of :func:`save_quantized` (also accepts a float checkpoint: returned as is)."""
    obj = torch.load(path, map_location="cpu")
    model = VGGTransformer(VGGTransformerConfig.from_dict(obj["config"]))
    if obj.get("format") == FORMAT:
        quantize_model(model, {"layers": obj["recipe"]}, init="none")
    model.load_state_dict(obj["model"])
    return model.eval()


def export_packed(model: nn.Module, out_dir: Union[str, Path]) -> Dict[str, Any]:
    """Writes each quantized layer's packed blob (docs/QUANTIZATION.md §1.3) and ``index.json``.

    Until the engine's container exists this is the hand-off format: one ``NAME.bin``
    per layer plus ``(bits, rows, cols, group)``, the bias (``NAME.bias.f32``) and
    activation bits in the index.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    index: Dict[str, Any] = {}
    for name, m in quant_layers(model):
        qw = m.export()
        (out / f"{name}.bin").write_bytes(qw.pack())
        entry = {"bits": qw.bits, "rows": qw.codes.shape[0], "cols": qw.codes.shape[1], "group": qw.layout.group_cols,
                 "act_bits": m.spec.act_bits, "kind": type(m).__name__}
        bias = getattr(m, "bias", None)
        if isinstance(bias, torch.Tensor):
            (out / f"{name}.bias.f32").write_bytes(bias.detach().float().numpy().astype("<f4").tobytes())
            entry["bias"] = f"{name}.bias.f32"
        index[name] = entry
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def calibration_runner(manifest: Union[str, Path], spm: Union[str, Path], utts: int, max_frames: int = 6000) -> Callable[[nn.Module], None]:
    """``calibrate(model)`` running teacher-forced forwards over the first ``utts`` utterances."""
    from ..data import FeatureCache, collate, make_batches, read_manifest
    from ..tokenizer import Tokenizer

    items = read_manifest(manifest, limit=utts)
    cache = FeatureCache(items, log_every=0)
    items = [u for u in items if u.uid in cache.feats]
    tok = Tokenizer(spm)
    ids = [tok.encode(u.text) for u in items]

    def run(model: nn.Module) -> None:
        model.eval()
        for b in make_batches([cache.frames(u.uid) for u in items], max_frames):
            batch = collate([cache[items[i].uid] for i in b], [ids[i] for i in b], [items[i].uid for i in b])
            model(batch.feats, batch.lengths, batch.prev_tokens)

    return run


def random_calibration(model: nn.Module, batches: int = 2, frames: int = 200, tokens: int = 12, seed: int = 0) -> None:
    """Forward passes on random features/tokens (smoke tests; real PTQ uses a manifest)."""
    g = torch.Generator().manual_seed(seed)
    cfg = model.cfg
    for _ in range(batches):
        x = torch.randn(2, frames, cfg.input_feat * cfg.in_channels, generator=g)
        prev = torch.randint(4, cfg.vocab_size, (2, tokens), generator=g)
        model(x, torch.tensor([frames, frames - 17]), prev)

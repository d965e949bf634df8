"""FP32 reference export: a trained checkpoint → ``X-fp32.qasr``.

Tensor names are ``model.py``'s state_dict keys, except that each weight-normed decoder
convolution (``decoder.conv_layers.N.weight_g`` / ``weight_v``) becomes one folded
``decoder.conv_layers.N.weight`` of shape (kernel, in, out) = g · v / ‖v‖.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch

from ..model import CausalConv1d, VGGTransformer, VGGTransformerConfig
from .container import DEFAULT_FEATURE_CONFIG, write_model


def folded_state_dict(model: VGGTransformer) -> "OrderedDict[str, np.ndarray]":
    """state_dict as float32 arrays with the decoder conv weight norm folded (order kept)."""
    folded: Dict[str, torch.Tensor] = {}
    for name, m in model.named_modules():
        if isinstance(m, CausalConv1d):
            folded[name] = m.weight().detach().float()
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for key, t in model.state_dict().items():
        prefix, _, leaf = key.rpartition(".")
        if prefix in folded and leaf in ("weight_g", "weight_v"):
            if leaf == "weight_v":
                out[f"{prefix}.weight"] = folded[prefix].contiguous().numpy()
            continue
        out[key] = t.detach().float().contiguous().numpy()
    return out


def load_checkpoint(path: Union[str, Path]) -> "tuple[VGGTransformer, Dict[str, Any]]":
    """Model (eval mode) and the checkpoint's other fields from an inference export or training checkpoint."""
    obj = torch.load(path, map_location="cpu")
    model = VGGTransformer(VGGTransformerConfig.from_dict(obj["config"]))
    model.load_state_dict(obj["model"])
    return model.eval(), obj


def _training_metadata(obj: Mapping[str, Any]) -> Dict[str, Any]:
    keep = ("format", "config_name", "step", "epoch", "best_wer", "wer", "spm", "args")
    meta = {k: obj[k] for k in keep if k in obj}
    return json.loads(json.dumps(meta, default=str))  # JSON-safe (paths, tuples)


def export_fp32(checkpoint: Union[str, Path], spm: Union[str, Path], out: Union[str, Path],
                extra_metadata: Optional[Mapping[str, Any]] = None) -> int:
    """Writes the FP32 reference ``.qasr``; returns its size in bytes."""
    model, obj = load_checkpoint(checkpoint)
    metadata: Dict[str, Any] = {
        "exporter": "qasr.export fp32",
        "source_checkpoint": Path(checkpoint).name,
        "training": _training_metadata(obj),
        "quantization": {"recipe": "none", "weights": "f32"},
    }
    metadata.update(extra_metadata or {})
    return write_model(out, model.cfg, folded_state_dict(model), Path(spm).read_bytes(), metadata, DEFAULT_FEATURE_CONFIG)

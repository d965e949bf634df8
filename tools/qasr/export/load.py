"""PyTorch model from an FP32 ``.qasr`` file (the inverse of :mod:`.fp32`).

The bundled model ships once, as the engine's file; the Python reference path
(``qasr transcribe``/``eval``, quantization teachers) loads the same file here.
Decoder convolutions are stored with weight norm folded (``W``); they are
unfolded as ``v = W``, ``g = ||W||`` over (kernel, in), which reproduces ``W`` up to
one rounding.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, Tuple, Union

import numpy as np
import torch

from ..model import CausalConv1d, VGGTransformer, VGGTransformerConfig
from .reader import FormatError, read_model


def load_fp32_model(path: Union[str, Path]) -> Tuple[VGGTransformer, bytes]:
    """(model in eval mode, SentencePiece model bytes) of an FP32 ``.qasr`` file."""
    m = read_model(path)
    model = VGGTransformer(VGGTransformerConfig.from_dict(m.config))
    convs = {name for name, mod in model.named_modules() if isinstance(mod, CausalConv1d)}
    sd: Dict[str, torch.Tensor] = {}
    for name, t in m.tensors.items():
        if not isinstance(t, np.ndarray):
            raise FormatError(f"{name} is packed: {path} is not an FP32 model")
        w = torch.from_numpy(np.array(t, dtype=np.float32))
        prefix, _, leaf = name.rpartition(".")
        if prefix in convs and leaf == "weight":
            sd[f"{prefix}.weight_v"] = w
            sd[f"{prefix}.weight_g"] = w.norm(dim=(0, 1), keepdim=True)
        else:
            sd[name] = w
    model.load_state_dict(sd)
    return model.eval(), m.spm_bytes


def spm_file(spm_bytes: bytes, directory: Union[str, Path, None] = None) -> Path:
    """Writes SentencePiece model bytes to a temporary ``.model`` file (for Tokenizer)."""
    f = tempfile.NamedTemporaryFile(prefix="qasr-spm-", suffix=".model", dir=directory, delete=False)
    with f:
        f.write(spm_bytes)
    return Path(f.name)

"""PyTorch model from an FP32 ``.qasr`` file (the inverse of :mod:`.fp32`).

The bundled model ships once, as the engine's file; the Python reference path
(``qasr transcribe``/``eval``, quantization teachers) loads the same file here.
Decoder convolutions are stored with weight norm folded (``W``); they are
unfolded as ``v = W``, ``g = ||W||`` over (kernel, in), which reproduces ``W`` up to
one rounding. The optional CTC head (``ctc_head.weight`` [V+1, D], ``ctc_head.bias`` [V+1], f32;
blank = V; see :mod:`qasr.ctc_head`) is not part of the model: :func:`load_ctc_head` reads it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch

from ..model import CausalConv1d, VGGTransformer, VGGTransformerConfig
from .reader import FormatError, ModelData, read_model

CTC_HEAD_WEIGHT = "ctc_head.weight"
CTC_HEAD_BIAS = "ctc_head.bias"


def load_fp32_model(path: Union[str, Path], dequantize: bool = False) -> Tuple[VGGTransformer, bytes]:
    """(model in eval mode, SentencePiece model bytes) of an FP32 ``.qasr`` file.

    ``dequantize``: also accept packed weights, loaded as their exact values ``(q - z)·s``
    (docs/QUANTIZATION.md §1), and quantize the input rows of every Linear whose metadata says
    ``act_bits: 8`` as the engine does (§2, :func:`qasr.quant.fake.fake_quant_activations`).
    Convolutions keep fp32 inputs, so the result approximates the engine's quantized model
    (the int8 patch quantization of its convolutions is left out): for training on its
    encoder outputs (``qasr ctc-head``), not for parity."""
    m = read_model(path)
    model = VGGTransformer(VGGTransformerConfig.from_dict(m.config))
    convs = {name for name, mod in model.named_modules() if isinstance(mod, CausalConv1d)}
    sd: Dict[str, torch.Tensor] = {}
    for name, t in m.tensors.items():
        if name in (CTC_HEAD_WEIGHT, CTC_HEAD_BIAS):
            continue
        if not isinstance(t, np.ndarray):
            if not dequantize:
                raise FormatError(f"{name} is packed: {path} is not an FP32 model")
            from ..quant.formats import unpack

            rows, cols = t.shape
            sd[name] = unpack(t.data, t.bits, rows, cols, t.group).dequantize()
            continue
        w = torch.from_numpy(np.array(t, dtype=np.float32))
        prefix, _, leaf = name.rpartition(".")
        if prefix in convs and leaf == "weight":
            sd[f"{prefix}.weight_v"] = w
            sd[f"{prefix}.weight_g"] = w.norm(dim=(0, 1), keepdim=True)
        else:
            sd[name] = w
    model.load_state_dict(sd)
    if dequantize:
        from ..quant.fake import fake_quant_activations

        layers = (m.metadata.get("quantization") or {}).get("layers") or {}
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and (layers.get(name) or {}).get("act_bits") == 8:
                mod.register_forward_pre_hook(lambda _m, args: (fake_quant_activations(args[0]),) + tuple(args[1:]))
    return model.eval(), m.spm_bytes


def ctc_head_from(m: ModelData, what: str = "model") -> Optional[torch.nn.Linear]:
    """The CTC head of a read file (``Linear(D, V+1)``, eval mode), or None if it has none.
    Half a head, or tensors of the wrong dtype or shape, are a :class:`FormatError`."""
    w, b = m.tensors.get(CTC_HEAD_WEIGHT), m.tensors.get(CTC_HEAD_BIAS)
    if w is None and b is None:
        return None
    vocab, dim = int(m.config["vocab_size"]), int(m.config["enc_output_dim"])
    for name, t, shape in ((CTC_HEAD_WEIGHT, w, (vocab + 1, dim)), (CTC_HEAD_BIAS, b, (vocab + 1,))):
        if t is None:
            raise FormatError(f"{what}: {name} is missing (the CTC head needs both tensors)")
        if not isinstance(t, np.ndarray) or t.dtype != np.float32 or t.shape != shape:
            raise FormatError(f"{what}: {name} must be f32 {list(shape)}")
    head = torch.nn.utils.skip_init(torch.nn.Linear, dim, vocab + 1)  # no RNG draw
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(np.array(w)))
        head.bias.copy_(torch.from_numpy(np.array(b)))
    return head.eval()


def load_ctc_head(path: Union[str, Path]) -> Optional[torch.nn.Linear]:
    """The CTC head stored in a ``.qasr`` file (FP32 or quantized), or None if it has none."""
    return ctc_head_from(read_model(path), str(path))


def spm_file(spm_bytes: bytes, directory: Union[str, Path, None] = None) -> Path:
    """Writes SentencePiece model bytes to a temporary ``.model`` file (for Tokenizer)."""
    f = tempfile.NamedTemporaryFile(prefix="qasr-spm-", suffix=".model", dir=directory, delete=False)
    with f:
        f.write(spm_bytes)
    return Path(f.name)

"""Quantized export: a model quantized by :mod:`qasr.quant` → ``X-<recipe>.qasr``.

* ``QuantLinear`` weights are stored packed (w2/w3/w4/w8, docs/QUANTIZATION.md §1.3);
* ``QuantConv2d`` / ``QuantCausalConv1d`` / ``QuantEmbedding`` weights are stored as their
  dequantized fp32 values ``(q − z)·s`` (exact; format 1.0 packs only Linear weights);
* ``metadata.quantization.layers`` records, per quantized module, ``bits``, ``group``
  (effective), ``symmetric``, ``act_bits`` (8: int8 dynamic activations, null: fp32) and
  ``stored`` (``w4`` … or ``f32``). The engine reads ``act_bits`` from there: packed weights
  with 8 run ``GemmA8``, with null ``GemmF32``; dequantized weights with 8 fake-quantize
  their input rows exactly as the toolkit does (docs/FORMAT.md §4.3).
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..model import VGGTransformer
from ..quant.modules import QuantCausalConv1d, QuantConv2d, QuantEmbedding, QuantLinear
from .container import DEFAULT_FEATURE_CONFIG, PackedTensor, Tensor, write_model
from .fp32 import folded_state_dict


def quantized_tensors(model: VGGTransformer) -> Tuple["OrderedDict[str, Tensor]", Dict[str, Any]]:
    """(tensors to write, ``quantization.layers`` metadata) of a quantized model."""
    tensors: "OrderedDict[str, Tensor]" = OrderedDict(
        (k, v) for k, v in folded_state_dict(model).items() if ".wq." not in k)
    layers: Dict[str, Any] = {}
    for name, m in model.named_modules():
        if not isinstance(m, (QuantLinear, QuantConv2d, QuantCausalConv1d, QuantEmbedding)):
            continue
        qw = m.export()
        group = qw.layout.group_cols
        info = {"bits": qw.bits, "group": group, "symmetric": m.spec.symmetric, "act_bits": m.spec.act_bits}
        if isinstance(m, QuantLinear):
            rows, cols = qw.codes.shape
            tensors[f"{name}.weight"] = PackedTensor(qw.pack(), qw.bits, group, (rows, cols))
            info["stored"] = f"w{qw.bits}"
        else:
            w = qw.dequantize()
            if isinstance(m, QuantConv2d):
                w = w.view_as(m.weight)
                key = f"{name}.weight"
            elif isinstance(m, QuantCausalConv1d):
                k, cin, cout = m.weight_v.shape
                w = w.reshape(cout, k, cin).permute(1, 2, 0)  # folded (kernel, in, out)
                key = f"{name}.weight"
            else:
                key = f"{name}.weight"
                info["act_bits"] = None  # embeddings are weight-only
            tensors[key] = w.detach().float().contiguous().numpy()
            info["stored"] = "f32"
        layers[name] = info
    return tensors, layers


def export_quantized_model(model: VGGTransformer, spm_bytes: bytes, out: Union[str, Path],
                           recipe: Any = None, extra_metadata: Optional[Mapping[str, Any]] = None) -> int:
    """Writes a quantized model (already quantized in place by ``qasr.quant``); returns bytes written."""
    tensors, layers = quantized_tensors(model)
    metadata: Dict[str, Any] = {
        "exporter": "qasr.export quant",
        "quantization": {"recipe": recipe if isinstance(recipe, (str, dict, type(None))) else str(recipe),
                         "layers": layers},
    }
    metadata.update(extra_metadata or {})
    return write_model(out, model.cfg, tensors, spm_bytes, metadata, DEFAULT_FEATURE_CONFIG)


def export_quantized(checkpoint: Union[str, Path], spm: Union[str, Path], out: Union[str, Path],
                     extra_metadata: Optional[Mapping[str, Any]] = None) -> int:
    """A quantized checkpoint (``qasr.quant`` ptq/qat output) → ``.qasr``."""
    import torch

    from ..quant.io import load_quantized

    model = load_quantized(checkpoint)
    obj = torch.load(checkpoint, map_location="cpu")
    return export_quantized_model(model, Path(spm).read_bytes(), out, obj.get("recipe"), extra_metadata)



"""Recipes → quantized models, their inverse, and the size report.

A recipe maps module-name patterns to :class:`QuantSpec` fields, first match wins,
unmatched modules stay float. JSON form::

    {"description": "...",
     "layers": {"decoder.fc_out": {"bits": 8, "group": 0},
                "re:.*conv_layers\\.0\\..*": null,          # null: keep float
                "*": {"bits": 4, "group": 64, "symmetric": false, "act_bits": 8}}}

Patterns are ``fnmatch`` globs on ``model.named_modules()`` names, or Python
regexes (``re.fullmatch``) when prefixed with ``re:``. A plain ``{pattern: spec}``
dict (without ``layers``) is accepted too. ``group`` 0 means one group per row.
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from torch import nn

from . import formats as F
from .modules import QUANT_TYPES, QuantSpec, make_float, make_quant

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
Recipe = List[Tuple[str, Optional[QuantSpec]]]


def load_recipe(recipe: Union[str, Path, Dict[str, Any], Recipe]) -> Recipe:
    """Parses a recipe: a JSON path, a bundled recipe name (``w4g64``), or a dict."""
    if isinstance(recipe, list):
        return recipe
    if isinstance(recipe, (str, Path)):
        p = Path(recipe)
        if not p.exists() and (RECIPES_DIR / f"{recipe}.json").exists():
            p = RECIPES_DIR / f"{recipe}.json"
        recipe = json.loads(p.read_text())
    layers = recipe.get("layers", recipe) if isinstance(recipe, dict) else recipe
    out: Recipe = []
    for pattern, spec in layers.items():
        if pattern == "description":
            continue
        out.append((pattern, None if spec is None else QuantSpec.from_dict(spec)))
    return out


def match(recipe: Recipe, name: str) -> Tuple[bool, Optional[QuantSpec]]:
    """(matched, spec) of the first rule matching ``name``."""
    for pattern, spec in recipe:
        hit = re.fullmatch(pattern[3:], name) if pattern.startswith("re:") else fnmatch.fnmatchcase(name, pattern)
        if hit:
            return True, spec
    return False, None


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attr, new)


def quantize_model(model: nn.Module, recipe: Union[str, Path, Dict[str, Any], Recipe], init: str = "mse") -> nn.Module:
    """Swaps matching Linear/Conv2d/CausalConv1d/Embedding modules for quantized ones (in place).

    ``init``: ``mse`` (MSE-optimal clipping per group), ``minmax`` or ``none``.
    """
    rules = load_recipe(recipe)
    for name, mod in list(model.named_modules()):
        if not name:
            continue
        hit, spec = match(rules, name)
        if hit and spec is not None:
            new = make_quant(mod, spec, init)
            if new is not None:
                _replace(model, name, new)
    return model


def dequantize_model(model: nn.Module) -> nn.Module:
    """Replaces every quantized module by a float one holding its dequantized weight (in place)."""
    for name, mod in list(model.named_modules()):
        if isinstance(mod, QUANT_TYPES):
            _replace(model, name, make_float(mod))
    return model


def quant_layers(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    """(name, module) of every quantized module, in model order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, QUANT_TYPES)]


@dataclass
class LayerReport:
    """Size of one quantized layer; ``bytes`` counts packed codes, fp16 scales and zero points."""

    name: str
    kind: str
    rows: int
    cols: int
    bits: int
    group: int
    act_bits: Optional[int]
    params: int
    bytes: int

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.bytes / self.params


def report(model: nn.Module) -> Dict[str, Any]:
    """Per-layer and total sizes; float parameters (biases, LayerNorm, unquantized layers) at 4 bytes."""
    layers: List[LayerReport] = []
    quant_param_ids = set()
    for name, m in quant_layers(model):
        n, k = m.weight_matrix().shape
        lay = F.Layout(m.spec.bits, n, k, m.wq.group)
        layers.append(LayerReport(name, type(m).__name__, n, k, lay.bits, lay.group_cols, m.spec.act_bits, n * k, lay.total_bytes))
        quant_param_ids.update(id(p) for p in (getattr(m, a, None) for a in ("weight", "weight_v", "weight_g")) if p is not None)
        quant_param_ids.update(id(p) for p in m.wq.parameters())
    float_params = sum(p.numel() for p in model.parameters() if id(p) not in quant_param_ids)
    qbytes = sum(r.bytes for r in layers)
    qparams = sum(r.params for r in layers)
    total = qbytes + 4 * float_params
    return {
        "layers": layers,
        "quant_params": qparams,
        "quant_bytes": qbytes,
        "float_params": float_params,
        "total_bytes": total,
        "bits_per_weight": 8.0 * total / max(1, qparams + float_params),
    }


def format_report(rep: Dict[str, Any]) -> str:
    """Plain-text table of :func:`report`."""
    lines = [f"{'layer':<52} {'type':<18} {'N x K':>13} {'w':>2} {'G':>5} {'a':>4} {'params':>10} {'bytes':>10} {'b/w':>6}"]
    for r in rep["layers"]:
        a = "f32" if r.act_bits is None else f"a{r.act_bits}"
        lines.append(
            f"{r.name:<52} {r.kind:<18} {f'{r.rows}x{r.cols}':>13} {r.bits:>2} {r.group:>5} {a:>4} "
            f"{r.params:>10} {r.bytes:>10} {r.bits_per_weight:>6.3f}"
        )
    lines.append(
        f"quantized: {rep['quant_params']} weights in {rep['quant_bytes']} bytes; float: {rep['float_params']} params "
        f"({4 * rep['float_params']} bytes); total {rep['total_bytes']} bytes = {rep['total_bytes'] / 2**20:.2f} MiB, "
        f"{rep['bits_per_weight']:.3f} bits/param"
    )
    return "\n".join(lines)

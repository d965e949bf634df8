"""Per-layer bit-strategy search: measured sensitivity, then allocation under a size budget.

1. **Sensitivity.** For every searchable layer ``l`` and candidate ``c`` (bits, group), only
   ``l`` is quantized (PTQ with MSE-optimal clipping, int8 activations as the recipe says) and
   the damage is measured on calibration batches as the mean token-level
   ``KL(float ‖ quantized)`` of the decoder's teacher-forced output distribution — the same
   quantity QAT's distillation minimises.  Layers are assumed to add up independently (the
   usual first-order assumption of mixed-precision search).
2. **Allocation.** Minimise ``Σ_l ΔKL(l, c_l)`` subject to the whole model's size (packed codes,
   fp16 scales, zero points, and every float parameter at 32 bits — :func:`qasr.quant.api.report`'s
   accounting) ``≤ budget × parameters`` bits.  A multiple-choice knapsack, solved greedily on
   each layer's lower convex hull: start every layer at its cheapest candidate, then repeatedly
   take the upgrade with the largest KL reduction per extra byte that still fits.
3. **Output**: a recipe (JSON) that pins the base recipe's fixed layers and names every searched
   layer explicitly, so ``quantize_model``/QAT/export use it like any bundled recipe.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant search --model models/small-fp32.qasr \\
        --calib-pack pack/dev --budget 2.5 --out runs/quant/w2mix.json
"""
from __future__ import annotations

import copy
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from . import formats as F
from .api import _replace, load_recipe, match, quantize_model, report
from .modules import QuantSpec, make_quant

Batch = Tuple[Tensor, Tensor, Tensor, Tensor]  # feats, lengths, prev tokens, targets
# Group size matters as much as bits at this scale: an fp16 scale and a uint8 zero point per
# group cost 24/G bits per weight (w2g32 is 2.75 bits, w2g128 2.19), so larger groups are
# candidates too.
DEFAULT_CANDIDATES: Tuple[QuantSpec, ...] = (
    QuantSpec(bits=2, group=128, symmetric=False, act_bits=8),
    QuantSpec(bits=2, group=64, symmetric=False, act_bits=8),
    QuantSpec(bits=2, group=32, symmetric=False, act_bits=8),
    QuantSpec(bits=3, group=64, symmetric=False, act_bits=8),
    QuantSpec(bits=4, group=64, symmetric=False, act_bits=8),
    QuantSpec(bits=8, group=0, symmetric=True, act_bits=8),
)


@dataclass
class Option:
    """One candidate of one layer: its spec, packed bytes and measured KL increase."""

    spec: QuantSpec
    bytes: int
    kl: float


def packed_bytes(mod: nn.Module, spec: QuantSpec) -> Optional[int]:
    """Stored bytes of ``mod`` quantized with ``spec`` (None if the layout does not apply)."""
    q = make_quant(mod, spec, init="minmax")
    if q is None:
        return None
    n, k = q.weight_matrix().shape
    try:
        return F.Layout(spec.bits, n, k, spec.group_for(k)).total_bytes
    except ValueError:
        return None


@torch.no_grad()
def mean_kl(reference: Sequence[Tensor], model: nn.Module, batches: Sequence[Batch]) -> float:
    """Mean per-token KL(reference ‖ model) over the batches' non-PAD target positions."""
    from ..model import PAD_ID

    total = 0.0
    count = 0
    for ref_lp, (x, lens, prev, tgt) in zip(reference, batches):
        lp = torch.log_softmax(model(x, lens, prev).float(), dim=-1)
        mask = tgt.ne(PAD_ID)
        kl = Fn.kl_div(lp[mask], ref_lp[mask], log_target=True, reduction="sum")
        total += float(kl)
        count += int(mask.sum())
    return total / max(1, count)


@torch.no_grad()
def sensitivities(
    model: nn.Module,
    batches: Sequence[Batch],
    layers: Sequence[str],
    candidates: Sequence[QuantSpec] = DEFAULT_CANDIDATES,
    progress: Optional[Callable[[str], None]] = None,
) -> Dict[str, List[Option]]:
    """ΔKL of quantizing each layer alone with each candidate (the float model is restored)."""
    model.eval()
    reference = [torch.log_softmax(model(x, lens, prev).float(), dim=-1) for x, lens, prev, _ in batches]
    out: Dict[str, List[Option]] = {}
    for name in layers:
        orig = model.get_submodule(name)
        opts: List[Option] = []
        for spec in candidates:
            size = packed_bytes(orig, spec)
            if size is None:
                continue
            q = make_quant(copy.deepcopy(orig), spec, init="mse")
            _replace(model, name, q)
            try:
                opts.append(Option(spec, size, max(0.0, mean_kl(reference, model, batches))))
            finally:
                _replace(model, name, orig)
        if opts:
            out[name] = opts
            if progress:
                progress(f"{name}: " + ", ".join(f"w{o.spec.bits}g{o.spec.group} {o.kl:.2e}" for o in opts))
    return out


def _hull(opts: List[Option]) -> List[Option]:
    """Options on the lower convex hull of (bytes, kl), cheapest first (dominated ones dropped)."""
    pts = sorted(opts, key=lambda o: (o.bytes, o.kl))
    front: List[Option] = []
    for o in pts:  # Pareto: strictly lower KL for more bytes
        if not front or o.kl < front[-1].kl:
            front.append(o)
    hull: List[Option] = []
    for o in front:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b lies on or above the segment a→o: drop it
            if (b.kl - a.kl) * (o.bytes - a.bytes) >= (o.kl - a.kl) * (b.bytes - a.bytes):
                hull.pop()
            else:
                break
        hull.append(o)
    return hull


def allocate(options: Dict[str, List[Option]], budget_bytes: float) -> Dict[str, Option]:
    """Greedy multiple-choice knapsack on convex hulls: min Σ kl s.t. Σ bytes ≤ budget_bytes.

    Raises ValueError when even the cheapest choice of every layer exceeds the budget."""
    hulls = {n: _hull(o) for n, o in options.items()}
    choice = {n: 0 for n in hulls}
    used = sum(h[0].bytes for h in hulls.values())
    if used > budget_bytes:
        raise ValueError(f"budget {budget_bytes:.0f} B is below the smallest configuration ({used} B)")
    while True:
        best: Optional[Tuple[float, str]] = None
        for n, h in hulls.items():
            i = choice[n]
            if i + 1 >= len(h):
                continue
            extra = h[i + 1].bytes - h[i].bytes
            if used + extra > budget_bytes:
                continue
            gain = (h[i].kl - h[i + 1].kl) / max(1, extra)
            if best is None or gain > best[0]:
                best = (gain, n)
        if best is None:
            break
        n = best[1]
        used += hulls[n][choice[n] + 1].bytes - hulls[n][choice[n]].bytes
        choice[n] += 1
    return {n: hulls[n][i] for n, i in choice.items()}


def searchable_layers(model: nn.Module, base: Any) -> Tuple[List[str], List[Tuple[str, Optional[QuantSpec]]]]:
    """Layers the base recipe sends to its catch-all rule ``*`` (searched) and the other rules
    (kept as they are)."""
    rules = load_recipe(base)
    fixed = [(p, s) for p, s in rules if p != "*"]
    names = []
    for name, mod in model.named_modules():
        if not name or make_quant(mod, QuantSpec(bits=8, group=0), init="minmax") is None:
            continue
        hit, _ = match(fixed, name)
        if not hit:
            names.append(name)
    return names, fixed


def search(
    model: nn.Module,
    batches: Sequence[Batch],
    budget_bits_per_weight: float,
    base: Any = "w2g32",
    candidates: Sequence[QuantSpec] = DEFAULT_CANDIDATES,
    progress: Optional[Callable[[str], None]] = None,
    options: Optional[Dict[str, List[Option]]] = None,
) -> Dict[str, Any]:
    """Searches a mixed-precision recipe; returns ``{"recipe": {...}, "summary": {...},
    "sensitivity": {...}, "options": ...}``. Pass a previous result's ``options`` to allocate
    for another budget without measuring the sensitivities again."""
    layers, fixed = searchable_layers(model, base)
    opts = options if options is not None else sensitivities(model, batches, layers, candidates, progress)
    # Size of everything that is not searched: the base recipe's fixed layers + float params.
    probe = quantize_model(copy.deepcopy(model), {"layers": {**{p: (None if s is None else vars(s)) for p, s in fixed}}}, init="none")
    rep = report(probe)
    searched_params = sum(_weight_numel(model.get_submodule(n)) for n in opts)
    rest_bytes = rep["total_bytes"] - 4 * searched_params
    total_params = rep["quant_params"] + rep["float_params"]
    budget_bytes = budget_bits_per_weight * total_params / 8.0 - rest_bytes
    chosen = allocate(opts, budget_bytes)
    layers_json: Dict[str, Any] = {p: (None if s is None else vars(s)) for p, s in fixed}
    for n, o in chosen.items():
        layers_json[n] = vars(o.spec)
    total_bytes = rest_bytes + sum(o.bytes for o in chosen.values())
    kl = sum(o.kl for o in chosen.values())
    bits_hist: Dict[int, int] = {}
    for o in chosen.values():
        bits_hist[o.spec.bits] = bits_hist.get(o.spec.bits, 0) + 1
    summary = {
        "budget_bits_per_weight": budget_bits_per_weight,
        "bits_per_weight": 8.0 * total_bytes / total_params,
        "total_bytes": int(total_bytes),
        "predicted_kl_sum": kl,
        "layers_by_bits": {str(b): c for b, c in sorted(bits_hist.items())},
        "above_2_bits": sorted(n for n, o in chosen.items() if o.spec.bits > 2),
    }
    desc = (f"searched: {budget_bits_per_weight} bits/weight budget (scales and float parameters included), "
            f"base {base if isinstance(base, str) else 'custom'}; {summary['layers_by_bits']} layers per bit width")
    return {"recipe": {"description": desc, "layers": layers_json}, "summary": summary,
            "sensitivity": {n: [{"bits": o.spec.bits, "group": o.spec.group, "bytes": o.bytes, "kl": o.kl} for o in v] for n, v in opts.items()},
            "options": opts}


def _weight_numel(mod: nn.Module) -> int:
    q = make_quant(mod, QuantSpec(bits=8, group=0), init="minmax")
    return int(q.weight_matrix().numel()) if q is not None else 0


def pack_batches(prefix: str, limit: int, batch: int = 8) -> List[Batch]:
    """Calibration batches from a :mod:`qasr.featpack` pack (first ``limit`` utterances)."""
    from ..train_gpu import DeviceData

    data = DeviceData(Path(prefix), torch.device("cpu"), workers=1, limit=limit)
    out: List[Batch] = []
    for i in range(0, len(data), batch):
        b = data.batch(torch.arange(i, min(i + batch, len(data))))
        out.append((b["feats"], b["lengths"], b["prev"], b["tgt"]))
    return out


def add_parser(sub: Any) -> None:
    """Registers ``search`` on the toolkit's sub-command parser."""
    p = sub.add_parser("search", help="per-layer bit allocation under a size budget")
    p.add_argument("--model", required=True, help="float model (.qasr FP32 or .pt)")
    p.add_argument("--calib-pack", required=True, help="qasr.featpack prefix (e.g. pack/dev)")
    p.add_argument("--calib-utts", type=int, default=32)
    p.add_argument("--budget", type=float, nargs="+", required=True,
                   help="bits per weight, scales and float params included; several budgets share one sensitivity measurement")
    p.add_argument("--base", default="w2g32", help="recipe whose non-'*' rules stay fixed")
    p.add_argument("--candidates", default=None,
                   help="comma-separated wBgG names (e.g. w2g128,w3g64,w4g64,w8; w8 = per-row symmetric); default: all six")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True, help="recipe JSON to write (summary and sensitivities beside it); with several "
                   "budgets, a '{budget}' in the name is replaced by each one (else '-<budget>' is appended to the stem)")
    p.set_defaults(fn=_run)


def _run(a: Any) -> int:
    import json

    torch.set_num_threads(a.threads)
    if str(a.model).endswith(".qasr"):
        from ..export.load import load_fp32_model

        model, _ = load_fp32_model(a.model)
    else:
        from .io import load_float

        model = load_float(a.model)
    batches = pack_batches(a.calib_pack, a.calib_utts)
    options = None
    for budget in a.budget:
        try:
            res = search(model, batches, budget, a.base, candidates=parse_candidates(a.candidates),
                         progress=lambda s: print(s, flush=True), options=options)
        except ValueError as e:  # infeasible budget: a clear message, not a traceback
            print(f"search: budget {budget}: {e}", file=sys.stderr)
            return 1
        options = res["options"]
        out = _out_path(a.out, budget, len(a.budget))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res["recipe"], indent=1) + "\n")
        out.with_suffix(".search.json").write_text(json.dumps({"summary": res["summary"], "sensitivity": res["sensitivity"]}, indent=1) + "\n")
        print(f"{out}: " + json.dumps(res["summary"], indent=1))
        if math.isfinite(res["summary"]["bits_per_weight"]) and res["summary"]["bits_per_weight"] > budget + 1e-9:
            raise SystemExit("search: budget exceeded (bug)")
    return 0


def parse_candidates(text: Optional[str]) -> Sequence[QuantSpec]:
    """``"w2g128,w4g64,w8"`` → specs (asymmetric grouped; ``w8``/``wBg0`` per-row symmetric)."""
    if not text:
        return DEFAULT_CANDIDATES
    out = []
    for item in text.split(","):
        item = item.strip()
        bits, _, group = item.lstrip("w").partition("g")
        if not bits.isdigit() or int(bits) not in (2, 3, 4, 8) or (group and not group.isdigit()):
            raise SystemExit(f"search: bad candidate {item!r} (want e.g. w2g128, w4g64, w8)")
        g = int(group or 0)
        out.append(QuantSpec(bits=int(bits), group=g, symmetric=g == 0, act_bits=8))
    return out


def _out_path(template: str, budget: float, count: int) -> Path:
    if "{budget}" in template:
        return Path(template.replace("{budget}", f"{budget:g}"))
    p = Path(template)
    return p if count == 1 else p.with_name(f"{p.stem}-{budget:g}{p.suffix}")

"""Post-training quantization: round-to-nearest, MSE-optimal clipping, GPTQ.

All methods end in the exporter's arithmetic (:mod:`.formats`): they only choose
the fp32 scale/zero per (row, group) — and, for GPTQ, the weights being rounded —
and write them into a quantized module's :class:`~.fake.WeightFakeQuant`, so the
module's fake-quantized forward, its export and the C++ kernels agree bit for bit.

* ``rtn`` — min/max range per (row, group), round to nearest (per-channel when the
  recipe's group is 0, per-group otherwise).
* ``mse`` — per (row, group), the clipping ratio of the min/max range from a grid that
  minimises the squared weight error (with the fp16-rounded scale).
* ``gptq`` — Frantar et al. 2022: columns quantized in order, each column's error
  spread over the not yet quantized columns with the inverse Hessian
  ``H = 2·XᵀX/n`` of the layer's GEMM input rows ``X`` (from a calibration pass);
  group parameters (MSE clipping) are taken when a group is entered.
* ``gptq-ao`` — the same in activation order (largest ``diag(H)`` first) with static
  groups (parameters chosen before any column moves).
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, Optional

import torch
from torch import Tensor, nn

from . import formats as F
from .api import quant_layers

CLIP_GRID = tuple(1.0 - 0.02 * i for i in range(36))  # 1.00 … 0.30


@torch.no_grad()
def search_clip(w: Tensor, bits: int, group: int, symmetric: bool, grid: Iterable[float] = CLIP_GRID) -> Tensor:
    """Clipping ratio per (row, group) [N, ng] minimising ‖w − Q(w)‖² over ``grid``.

    Same grid arithmetic as :func:`.formats.minmax_params` + :func:`.formats.codes_from_scales`
    on the grouped view (zero padding of a short last group adds no error).
    """
    wg = F._grouped(w.float(), group)  # [N, ng, Ge]
    qm = F.qmax(bits)
    if symmetric:
        amax = wg.abs().amax(-1)
    else:
        lo0, hi0 = torch.clamp(wg.amin(-1), max=0), torch.clamp(wg.amax(-1), min=0)
    best_err = torch.full(wg.shape[:2], float("inf"), device=wg.device)
    best = torch.ones(wg.shape[:2], device=wg.device)
    for c in grid:
        if symmetric:
            sc = amax * c / F.symmetric_zero(bits)
            z = torch.full_like(sc, F.symmetric_zero(bits))
        else:
            lo, hi = lo0 * c, hi0 * c
            sc = (hi - lo) / qm
            z = torch.clamp(torch.round(-lo / torch.where(sc > 0, sc, torch.ones_like(sc))), 0, qm)
        s16 = F.fp16_scale(torch.where(sc > 0, sc, torch.ones_like(sc))).float()[..., None]
        q = torch.clamp(torch.round(wg / s16) + z[..., None], 0, qm)
        err = ((q - z[..., None]) * s16 - wg).square_().sum(-1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best = torch.where(better, torch.full_like(best, c), best)
    return best


def set_params(mod: nn.Module, w: Tensor, method: str) -> None:
    """Scale/zero of ``mod.wq`` from weight matrix ``w`` by ``rtn`` (min/max) or ``mse``."""
    mod.wq.init_from(w, "mse" if method == "mse" else "minmax")


class HessianCollector:
    """Accumulates ``XᵀX`` of every quantized layer's GEMM input rows via forward pre-hooks."""

    def __init__(self, model: nn.Module) -> None:
        self.h: Dict[str, Tensor] = {}
        self.n: Dict[str, int] = {}
        self.handles = []
        for name, m in quant_layers(model):
            if hasattr(m, "gemm_rows"):
                self.handles.append(m.register_forward_pre_hook(self._hook(name, m)))

    def _hook(self, name: str, m: nn.Module) -> Callable:
        def hook(_mod: nn.Module, args: tuple) -> None:
            x = m.gemm_rows(args[0].detach()).double()
            if name not in self.h:
                self.h[name] = torch.zeros(x.size(1), x.size(1), dtype=torch.float64)
                self.n[name] = 0
            self.h[name] += x.t() @ x
            self.n[name] += x.size(0)

        return hook

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    def hessian(self, name: str) -> Optional[Tensor]:
        """``2·XᵀX/n`` or None when the layer saw no input."""
        return None if name not in self.h else 2.0 * self.h[name] / max(1, self.n[name])


@torch.no_grad()
def gptq(
    w: Tensor, h: Tensor, bits: int, group: int, symmetric: bool, damp: float = 0.01, block: int = 128,
    act_order: bool = False,
) -> F.QuantizedWeight:
    """GPTQ of ``w`` [N, K] with Hessian ``h`` [K, K]; returns the quantized weight.

    ``act_order``: columns are quantized in decreasing order of ``diag(h)`` (the inputs
    with the most energy first, while the most columns are left to absorb their error),
    with *static* groups: every group's scale/zero is chosen up front by MSE clipping of
    the float weights, since the format's groups are runs of consecutive columns.
    Without it, columns go in order and a group's parameters are taken from the
    error-updated weights when the group is entered.
    """
    w = w.double().clone()
    n, k = w.shape
    ge = min(group, k)
    ng = F.num_groups(k, group)
    h = h.double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    scales = torch.ones(n, ng)
    zeros = torch.zeros(n, ng, dtype=torch.uint8)
    if ge >= k or act_order:
        clip = search_clip(w.float(), bits, ge, symmetric)
        scales, zeros = F.minmax_params(w.float(), bits, ge, symmetric, clip)
    perm = torch.argsort(torch.diag(h), descending=True) if act_order else torch.arange(k)
    w, h = w[:, perm], h[perm][:, perm]
    h += damp * torch.mean(torch.diag(h)) * torch.eye(k, dtype=torch.float64)
    hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    block = ge * max(1, block // ge) if ge < k and not act_order else block
    qw = torch.zeros_like(w)
    for i1 in range(0, k, block):
        i2 = min(i1 + block, k)
        w1 = w[:, i1:i2].clone()
        err1 = torch.zeros_like(w1)
        h1 = hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = int(perm[i1 + i])  # the column's place in the format (its group)
            g = col // ge
            if ge < k and not act_order and col % ge == 0:
                wg = w1[:, i : i + ge].float()
                clip = search_clip(wg, bits, wg.shape[1], symmetric)
                s, z = F.minmax_params(wg, bits, wg.shape[1], symmetric, clip)
                scales[:, g], zeros[:, g] = s[:, 0], z[:, 0]
            s16 = F.fp16_scale(scales[:, g : g + 1])
            q = F.codes_from_scales(w1[:, i : i + 1].float(), s16, zeros[:, g : g + 1], bits, 1)
            deq = (q.double() - zeros[:, g : g + 1].double()) * s16.double()
            qw[:, i1 + i] = deq[:, 0]
            e = (w1[:, i] - deq[:, 0]) / h1[i, i]
            w1[:, i:] -= e[:, None] @ h1[i, i:][None, :]
            err1[:, i] = e
        w[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    out = torch.empty_like(qw)
    out[:, perm] = qw  # back to the format's column order
    return F.quantize_weight(out.float(), bits, group, symmetric, scales, zeros)


@torch.no_grad()
def apply_gptq(mod: nn.Module, h: Tensor, damp: float = 0.01, act_order: bool = False) -> F.QuantizedWeight:
    """Runs GPTQ on quantized module ``mod`` and stores the result in it.

    The module's latent weight becomes the dequantized GPTQ weight and its scale/zero
    the GPTQ ones, so its fake quantization reproduces the GPTQ codes exactly.
    """
    spec = mod.spec
    w = mod.weight_matrix().detach().float()
    qw = gptq(w, h, spec.bits, mod.wq.group, spec.symmetric, damp, act_order=act_order)
    deq = qw.dequantize()
    if hasattr(mod, "weight_v"):  # causal conv: v = W, g = ‖W‖ (fold reproduces W up to rounding)
        k, cin, cout = mod.weight_v.shape
        fold = deq.reshape(cout, k, cin).permute(1, 2, 0)
        mod.weight_v.copy_(fold)
        mod.weight_g.copy_(fold.norm(dim=(0, 1), keepdim=True))
    else:
        mod.weight.copy_(deq.view_as(mod.weight))
    mod.wq.scale.copy_(qw.scales.float())
    mod.wq.zero.copy_(qw.zeros.float())
    return qw


def ptq(model: nn.Module, method: str, calibrate: Optional[Callable[[nn.Module], None]] = None, damp: float = 0.01) -> nn.Module:
    """Sets every quantized layer's parameters by ``rtn``, ``mse``, ``gptq`` or ``gptq-ao``
    (GPTQ in activation order with static groups, see :func:`gptq`).

    For ``gptq``/``gptq-ao``, ``calibrate(model)`` must run forward passes on calibration data;
    Hessians are collected from the model with float (not yet GPTQ'd) weights, and
    layers without calibration input (e.g. the embedding) fall back to ``mse``.
    """
    layers = quant_layers(model)
    if method in ("rtn", "mse"):
        for _, m in layers:
            set_params(m, m.weight_matrix().detach().float(), method)
        return model
    if method not in ("gptq", "gptq-ao"):
        raise ValueError(f"unknown PTQ method {method}")
    if calibrate is None:
        raise ValueError("gptq needs calibration data")
    for _, m in layers:  # collect float-weight statistics
        m.wq.enabled = False
    col = HessianCollector(model)
    try:
        with torch.no_grad():
            calibrate(model)
    finally:
        col.close()
        for _, m in layers:
            m.wq.enabled = True
    for name, m in layers:
        h = col.hessian(name)
        if h is None:
            set_params(m, m.weight_matrix().detach().float(), "mse")
        else:
            apply_gptq(m, h, damp, act_order=method == "gptq-ao")
    return model

"""Fake quantizers: the exact forward arithmetic of :mod:`.formats` with trainable gradients.

Forward values are computed by the same formulas as the exporter and the kernels
(fp16-rounded scale, ``round_half_even(w/s) + z`` clamped, ``(q − z)·s``; per-row
int8 activations), and are returned as ``exact.detach() + (surrogate −
surrogate.detach())`` so the forward value is bit-identical to
:meth:`.formats.QuantizedWeight.dequantize` whatever the surrogate's rounding.

Gradients (straight-through estimators):

* weights — LSQ (Esser et al. 2020) for the step size: ``∂ŵ/∂s = (q − z) − w/s``
  inside the grid, ``q_clip − z`` outside, scaled by ``1/sqrt(Ge·qmax)``; LSQ+
  (Bhalgat et al. 2020) for the (asymmetric) offset: ``∂ŵ/∂z = −s`` where clamped,
  0 inside; ``∂ŵ/∂w = 1`` inside the grid, 0 outside.
* activations — identity (dynamic range: amax maps to ±127 so nothing is clipped).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from . import formats as F


def round_ste(x: Tensor) -> Tensor:
    """Round half to even forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def grad_scale(x: Tensor, g: float) -> Tensor:
    """Value ``x``, gradient multiplied by ``g``."""
    y = x * g
    return (x - y).detach() + y


def with_value(exact: Tensor, surrogate: Tensor) -> Tensor:
    """Forward value ``exact`` (bit for bit), gradient of ``surrogate``."""
    return exact.detach() + (surrogate - surrogate.detach())


def fake_quant_activations(x: Tensor) -> Tensor:
    """Dynamic per-row int8 on the last dimension (§2): ``xq·sx`` forward, identity backward."""
    xq, sx = F.activation_codes(x.detach())
    return with_value((xq * sx).to(x.dtype), x)


class WeightFakeQuant(nn.Module):
    """Per-(row, group) learnable step size (and offset if asymmetric) for a matrix [N, K].

    ``scale`` is the fp32 master step (rounded to fp16 in the forward pass); ``zero``
    the real-valued offset (rounded and clamped to ``[0, 2^b−1]`` in the forward pass;
    a fixed ``2^(b−1)`` buffer for symmetric grids).
    """

    def __init__(self, rows: int, cols: int, bits: int, group: int, symmetric: bool) -> None:
        super().__init__()
        F.Layout(bits, rows, cols, group)  # validates
        self.bits, self.group, self.symmetric, self.cols = bits, min(group, cols), symmetric, cols
        self.enabled = True  # False: pass the float weight through (calibration of float statistics)
        ng = F.num_groups(cols, group)
        self.scale = nn.Parameter(torch.ones(rows, ng))
        z = torch.full((rows, ng), float(F.symmetric_zero(bits)))
        if symmetric:
            self.register_buffer("zero", z)
        else:
            self.zero = nn.Parameter(z)

    def extra_repr(self) -> str:
        return f"w{self.bits} group={self.group} {'sym' if self.symmetric else 'asym'}"

    @torch.no_grad()
    def init_from(self, w: Tensor, method: str = "mse") -> None:
        """Initial scale/zero from ``w``: ``minmax`` or MSE-optimal clipping (default)."""
        from .ptq import search_clip

        clip = search_clip(w, self.bits, self.group, self.symmetric) if method == "mse" else None
        s, z = F.minmax_params(w, self.bits, self.group, self.symmetric, clip)
        self.scale.copy_(s)
        self.zero.copy_(z.float())

    def params(self) -> tuple:
        """(fp16 scales, uint8 zero points) exactly as exported."""
        s16 = F.fp16_scale(self.scale.detach().clamp_min(2.0**-24))
        z = torch.clamp(torch.round(self.zero.detach()), 0, F.qmax(self.bits)).to(torch.uint8)
        return s16, z

    def quantize(self, w: Tensor) -> F.QuantizedWeight:
        """Codes, scales and zeros of ``w`` (the export path)."""
        s16, z = self.params()
        return F.QuantizedWeight(F.codes_from_scales(w.detach(), s16, z, self.bits, self.group), s16, z, self.bits, self.group)

    def forward(self, w: Tensor) -> Tensor:
        """Fake-quantized ``w`` [N, K]."""
        if not self.enabled:
            return w
        exact = self.quantize(w).dequantize().to(w.dtype)
        qm = F.qmax(self.bits)
        g = 1.0 / math.sqrt(self.group * qm)
        s = grad_scale(self.scale.clamp_min(2.0**-24), g)
        s = s + (F.fp16_scale(s.detach()).float() - s).detach()
        z = torch.clamp(round_ste(self.zero), 0, qm)
        sk = F.expand_groups(s, self.cols, self.group)
        zk = F.expand_groups(z, self.cols, self.group)
        q = torch.clamp(round_ste(w / sk) + zk, 0, qm)
        return with_value(exact, (q - zk) * sk)


def fake_quant_weight_once(w: Tensor, bits: int, group: int, symmetric: bool, method: str = "mse") -> Tensor:
    """Convenience: quantize-dequantize ``w`` [N, K] with freshly initialised parameters."""
    fq = WeightFakeQuant(w.shape[0], w.shape[1], bits, group, symmetric)
    fq.init_from(w, method)
    return fq.quantize(w).dequantize()


def maybe_fake_quant_activations(x: Tensor, act_bits: Optional[int]) -> Tensor:
    """Applies :func:`fake_quant_activations` when ``act_bits == 8``; float otherwise."""
    if act_bits is None:
        return x
    if act_bits != 8:
        raise ValueError(f"only 8-bit activations are supported, got {act_bits}")
    return fake_quant_activations(x)

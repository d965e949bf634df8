"""Quantized drop-in replacements for the model's GEMM-shaped modules.

Each module sees its weight as a matrix ``W[N][K]`` (rows = outputs, the layout of
docs/QUANTIZATION.md) and, when ``act_bits == 8``, quantizes every GEMM input row
of length ``K`` dynamically (§2). How each module maps to that matrix:

* :class:`QuantLinear` — ``nn.Linear.weight`` as is; input rows are the last dim.
* :class:`QuantConv2d` — im2col: ``N = C_out``, ``K = C_in·kh·kw`` in PyTorch's
  ``weight.reshape(C_out, -1)`` order (``k = (c·kh + i)·kw + j``); one input row
  per output position = the zero-padded ``C_in×kh×kw`` patch in the same order
  (``F.unfold``'s order).
* :class:`QuantCausalConv1d` — the weight norm is folded first
  (``W = g·v/‖v‖``, shape (kernel, in, out)); ``N = out``, ``K = kernel·in`` with
  ``k = t·in + i`` (``t`` = 0 the oldest step, ``kernel−1`` the current one); one
  input row per step = the window ``(B, kernel, in)`` flattened, as in ``step()``.
* :class:`QuantEmbedding` — weight-only: ``N = vocab`` rows of ``K = embed_dim``;
  a lookup returns the dequantized row (no activation quantization).

Subclassing the float modules keeps ``isinstance`` checks, attribute names and
``state_dict`` keys of the model (plus ``*.wq.scale``/``*.wq.zero``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ..model import CausalConv1d
from . import formats as F
from .fake import WeightFakeQuant, maybe_fake_quant_activations

WHOLE_ROW = 0  # recipe value for "one group per row"


@dataclass(frozen=True)
class QuantSpec:
    """How one layer is quantized: weight bits, group (0 = whole row), grid, activation bits."""

    bits: int = 4
    group: int = 64
    symmetric: bool = False
    act_bits: Optional[int] = 8

    def group_for(self, cols: int) -> int:
        """Group size for a matrix with ``cols`` columns (whole row for 0 or ≥ cols)."""
        return cols if self.group in (WHOLE_ROW, None) or self.group >= cols else self.group

    @staticmethod
    def from_dict(d: Dict[str, Any]) -> "QuantSpec":
        unknown = set(d) - {"bits", "group", "symmetric", "act_bits"}
        if unknown:
            raise ValueError(f"unknown quantization keys {sorted(unknown)}")
        spec = QuantSpec(**{**asdict(QuantSpec()), **d})
        if spec.bits not in F.BITS or spec.act_bits not in (8, None):
            raise ValueError(f"unsupported spec {spec}")
        return spec


class QuantMixin:
    """Shared pieces: the weight matrix view, its fake quantizer, activation handling."""

    spec: QuantSpec
    wq: WeightFakeQuant

    def _setup(self, spec: QuantSpec, rows: int, cols: int, init: str) -> None:
        self.spec = spec
        self.wq = WeightFakeQuant(rows, cols, spec.bits, spec.group_for(cols), spec.symmetric)
        if init != "none":
            self.wq.init_from(self.weight_matrix().detach().float(), init)

    def weight_matrix(self) -> Tensor:
        """The float (latent) weight as ``W[N][K]``."""
        raise NotImplementedError

    def quant_weight_matrix(self) -> Tensor:
        """Fake-quantized ``W[N][K]`` (bit-identical to the exported dequantized weight)."""
        return self.wq(self.weight_matrix())

    def export(self) -> F.QuantizedWeight:
        """Codes, fp16 scales and zero points of this layer (what the packer writes)."""
        return self.wq.quantize(self.weight_matrix().detach().float())

    def act(self, x: Tensor) -> Tensor:
        return maybe_fake_quant_activations(x, self.spec.act_bits)


class QuantLinear(nn.Linear, QuantMixin):
    """``nn.Linear`` with fake-quantized weight and (optionally) int8 dynamic activations."""

    def __init__(self, src: nn.Linear, spec: QuantSpec, init: str = "mse") -> None:
        nn.Linear.__init__(self, src.in_features, src.out_features, src.bias is not None)
        with torch.no_grad():
            self.weight.copy_(src.weight)
            if src.bias is not None:
                self.bias.copy_(src.bias)
        self._setup(spec, src.out_features, src.in_features, init)

    def weight_matrix(self) -> Tensor:
        return self.weight

    def gemm_rows(self, x: Tensor) -> Tensor:
        """GEMM input rows [M, K] of input ``x``."""
        return x.reshape(-1, self.in_features)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return Fn.linear(self.act(x), self.quant_weight_matrix().to(x.dtype), self.bias)


class QuantConv2d(nn.Conv2d, QuantMixin):
    """``nn.Conv2d`` as an im2col GEMM (see module docstring for the K order)."""

    def __init__(self, src: nn.Conv2d, spec: QuantSpec, init: str = "mse") -> None:
        nn.Conv2d.__init__(
            self, src.in_channels, src.out_channels, src.kernel_size, src.stride, src.padding,
            src.dilation, src.groups, src.bias is not None, src.padding_mode,
        )
        if src.groups != 1 or src.padding_mode != "zeros":
            raise ValueError("only dense, zero-padded convolutions are supported")
        with torch.no_grad():
            self.weight.copy_(src.weight)
            if src.bias is not None:
                self.bias.copy_(src.bias)
        self._setup(spec, src.out_channels, self.weight[0].numel(), init)

    def weight_matrix(self) -> Tensor:
        return self.weight.reshape(self.out_channels, -1)

    def gemm_rows(self, x: Tensor) -> Tensor:
        """im2col patches [B·L, C_in·kh·kw] in ``weight.reshape(C_out, -1)`` column order."""
        cols = Fn.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # (B, K, L)
        return cols.transpose(1, 2).reshape(-1, cols.size(1))

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        w = self.quant_weight_matrix().to(x.dtype)
        if self.spec.act_bits is None:
            return Fn.conv2d(x, w.view_as(self.weight), self.bias, self.stride, self.padding, self.dilation)
        if self.stride == (1, 1) and self.dilation == (1, 1) and self.padding_mode == "zeros" and not getattr(self, "force_im2col", False):
            return self._forward_by_offsets(x, w)
        b, _, h, wd = x.shape
        oh = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel_size[0] - 1) - 1) // self.stride[0] + 1
        ow = (wd + 2 * self.padding[1] - self.dilation[1] * (self.kernel_size[1] - 1) - 1) // self.stride[1] + 1
        y = Fn.linear(self.act(self.gemm_rows(x)), w, self.bias)  # (B·L, C_out)
        return y.view(b, oh * ow, -1).transpose(1, 2).reshape(b, -1, oh, ow)

    def _forward_by_offsets(self, x: Tensor, w: Tensor) -> Tensor:
        """The im2col path's values without materialising the patches (training speed).

        A patch's int8 scale comes from its absolute maximum, which is a max-pool of the
        channel-wise absolute maximum; each of the ``kh·kw`` kernel offsets then quantizes
        the shifted input with the scale of the patch it lands in and adds a 1x1 convolution.
        The codes are the im2col path's; only the float summation order differs."""
        kh, kw = self.kernel_size
        ph, pw = self.padding
        b, c, h, wd = x.shape
        oh, ow = h + 2 * ph - kh + 1, wd + 2 * pw - kw + 1
        xp = Fn.pad(x, (pw, pw, ph, ph))
        with torch.no_grad():
            amax = Fn.max_pool2d(x.detach().float().abs().amax(1, keepdim=True), (kh, kw), 1, (ph, pw))
            inv = torch.div(torch.full_like(amax, 127.0), amax)  # §2: fp32 division, as the kernels
            ok = (amax > 0) & torch.isfinite(inv)
            inv = torch.where(ok, inv, torch.zeros_like(inv))
            sx = torch.where(ok, amax / 127.0, torch.zeros_like(amax))
        w4 = w.view(self.out_channels, c, kh, kw)
        y: Optional[Tensor] = None
        for i in range(kh):
            for j in range(kw):
                xs = xp[:, :, i : i + oh, j : j + ow]
                with torch.no_grad():
                    xq = (torch.clamp(torch.round(xs.float() * inv), -127, 127) * sx).to(x.dtype)
                t = Fn.conv2d(xq + (xs - xs.detach()), w4[:, :, i : i + 1, j : j + 1])
                y = t if y is None else y + t
        assert y is not None
        return y if self.bias is None else y + self.bias.view(1, -1, 1, 1).to(y.dtype)


class QuantCausalConv1d(CausalConv1d, QuantMixin):
    """The decoder's weight-normed causal conv1d, norm folded, as a GEMM over windows."""

    def __init__(self, src: CausalConv1d, spec: QuantSpec, init: str = "mse") -> None:
        kernel, cin, cout = src.weight_v.shape
        CausalConv1d.__init__(self, cin, cout, kernel)
        with torch.no_grad():
            self.weight_v.copy_(src.weight_v)
            self.weight_g.copy_(src.weight_g)
            self.bias.copy_(src.bias)
        self._setup(spec, cout, kernel * cin, init)

    def folded(self) -> Tensor:
        """Float folded weight (kernel, in, out)."""
        return CausalConv1d.weight(self)

    def weight_matrix(self) -> Tensor:
        k, cin, cout = self.weight_v.shape
        return self.folded().permute(2, 0, 1).reshape(cout, k * cin)

    def weight(self) -> Tensor:  # type: ignore[override]
        """Fake-quantized folded weight (kernel, in, out) — what ``forward``/``step`` use."""
        k, cin, cout = self.weight_v.shape
        return self.quant_weight_matrix().reshape(cout, k, cin).permute(1, 2, 0)

    def gemm_rows(self, x: Tensor) -> Tensor:
        """Windows [B·U, kernel·in] of a full sequence ``x`` (B, U, in), zero history."""
        return self._windows(x).reshape(-1, self.kernel * x.size(-1))

    def _windows(self, x: Tensor) -> Tensor:
        xp = Fn.pad(x, (0, 0, self.kernel - 1, 0))  # (B, U+K−1, in)
        w = xp.unfold(1, self.kernel, 1)  # (B, U, in, K)
        return w.transpose(2, 3).reshape(x.size(0), x.size(1), -1)  # (B, U, K·in), k = t·in + i

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        if self.spec.act_bits is None:
            return CausalConv1d.forward(self, x)
        return Fn.linear(self.act(self._windows(x)), self.quant_weight_matrix().to(x.dtype), self.bias.to(x.dtype))

    def step(self, window: Tensor) -> Tensor:  # noqa: D102
        if self.spec.act_bits is None:
            return CausalConv1d.step(self, window)
        rows = window.reshape(window.size(0), -1)
        return Fn.linear(self.act(rows), self.quant_weight_matrix().to(window.dtype), self.bias.to(window.dtype))


class QuantEmbedding(nn.Embedding, QuantMixin):
    """``nn.Embedding`` with weight-only quantization (rows = tokens)."""

    def __init__(self, src: nn.Embedding, spec: QuantSpec, init: str = "mse") -> None:
        nn.Embedding.__init__(self, src.num_embeddings, src.embedding_dim, src.padding_idx)
        with torch.no_grad():
            self.weight.copy_(src.weight)
        self._setup(QuantSpec(spec.bits, spec.group, spec.symmetric, None), src.num_embeddings, src.embedding_dim, init)

    def weight_matrix(self) -> Tensor:
        return self.weight

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return Fn.embedding(x, self.quant_weight_matrix(), self.padding_idx)


QUANT_TYPES = (QuantLinear, QuantConv2d, QuantCausalConv1d, QuantEmbedding)


def make_quant(mod: nn.Module, spec: QuantSpec, init: str = "mse") -> Optional[nn.Module]:
    """Quantized replacement of ``mod`` or None when its type is not quantizable."""
    if isinstance(mod, QUANT_TYPES):
        return None
    if isinstance(mod, nn.Linear):
        return QuantLinear(mod, spec, init)
    if isinstance(mod, nn.Conv2d):
        return QuantConv2d(mod, spec, init)
    if isinstance(mod, CausalConv1d):
        return QuantCausalConv1d(mod, spec, init)
    if isinstance(mod, nn.Embedding):
        return QuantEmbedding(mod, spec, init)
    return None


def make_float(mod: nn.Module) -> nn.Module:
    """Float module whose weight is the dequantized weight of quantized ``mod``."""
    w = mod.export().dequantize()
    if isinstance(mod, QuantLinear):
        out: nn.Module = nn.Linear(mod.in_features, mod.out_features, mod.bias is not None)
        with torch.no_grad():
            out.weight.copy_(w)
            if mod.bias is not None:
                out.bias.copy_(mod.bias)
    elif isinstance(mod, QuantConv2d):
        out = nn.Conv2d(mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding,
                        mod.dilation, mod.groups, mod.bias is not None)
        with torch.no_grad():
            out.weight.copy_(w.view_as(mod.weight))
            if mod.bias is not None:
                out.bias.copy_(mod.bias)
    elif isinstance(mod, QuantCausalConv1d):
        k, cin, cout = mod.weight_v.shape
        out = CausalConv1d(cin, cout, k)
        fold = w.reshape(cout, k, cin).permute(1, 2, 0)  # (K, in, out)
        with torch.no_grad():  # v = W, g = ‖W‖ reproduces W up to fp32 rounding of the norm
            out.weight_v.copy_(fold)
            out.weight_g.copy_(fold.norm(dim=(0, 1), keepdim=True))
            out.bias.copy_(mod.bias)
    elif isinstance(mod, QuantEmbedding):
        out = nn.Embedding(mod.num_embeddings, mod.embedding_dim, mod.padding_idx)
        with torch.no_grad():
            out.weight.copy_(w)
    else:
        raise TypeError(type(mod).__name__)
    return out.train(mod.training)

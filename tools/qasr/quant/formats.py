"""Bit-exact Python form of the low-bit formats in docs/QUANTIZATION.md.

Everything here mirrors ``kernels/ref/gemm_ref.cc`` and
``kernels/formats/weight_format.cc``:

* :func:`quantize_weight` — codes, fp16 scales and uint8 zero points per
  (row, group) with the documented round/clamp (§1.2);
* :func:`quantize_activations` — dynamic per-row int8 (§2);
* :func:`group_dots` — the exact corrected integer dots ``d_g`` (§3.1);
* :func:`gemm_a8` / :func:`gemm_f32` — the fp32 outputs, with every
  ``std::fma`` of the reference emulated *exactly* (:func:`fma32`), so the
  results are bit-identical to ``ref::GemmA8`` / ``ref::GemmF32`` and to the
  SIMD kernels on FMA targets (tests/kernels/python_parity_test.cc);
* :func:`pack` / :func:`unpack` — the packed byte layout (§1.3).

Tensors are torch tensors; codes are ``torch.uint8`` [N, K], scales
``torch.float16`` [N, ng], zero points ``torch.uint8`` [N, ng].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

BITS = (2, 3, 4, 8)
TILE_ROWS = 8
SUPERBLOCK_COLS = 32
MAX_GROUP = 16384


# ----------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """Derived sizes of one packed weight ``(bits, rows N, cols K, group G)``; bytes."""

    bits: int
    rows: int
    cols: int
    group: int

    def __post_init__(self) -> None:
        if self.bits not in BITS:
            raise ValueError(f"unsupported bit width {self.bits}")
        if self.rows <= 0 or self.cols <= 0 or self.group <= 0:
            raise ValueError(f"bad shape w{self.bits} {self.rows}x{self.cols} group {self.group}")
        if self.group_cols < self.cols and self.group_cols % SUPERBLOCK_COLS:
            raise ValueError(f"group {self.group} must be a multiple of 32 or cover the row ({self.cols})")
        if self.group_cols > MAX_GROUP:
            raise ValueError(f"group larger than {MAX_GROUP}")

    @property
    def group_cols(self) -> int:
        """Effective group size ``Ge = min(G, K)``."""
        return min(self.group, self.cols)

    @property
    def groups(self) -> int:
        """Groups per row ``ng = ceil(K / Ge)``."""
        return -(-self.cols // self.group_cols)

    @property
    def tiles(self) -> int:
        return -(-self.rows // TILE_ROWS)

    @property
    def padded_cols(self) -> int:
        return -(-self.cols // SUPERBLOCK_COLS) * SUPERBLOCK_COLS

    @property
    def code_bytes(self) -> int:
        return self.tiles * self.padded_cols * self.bits

    @property
    def scale_bytes(self) -> int:
        return self.tiles * self.groups * TILE_ROWS * 2

    @property
    def zero_bytes(self) -> int:
        return self.tiles * self.groups * TILE_ROWS

    @property
    def total_bytes(self) -> int:
        return self.code_bytes + self.scale_bytes + self.zero_bytes


def num_groups(cols: int, group: int) -> int:
    """``ceil(K / min(G, K))``."""
    return -(-cols // min(group, cols))


def group_index(cols: int, group: int) -> Tensor:
    """Group of every column, shape [K] (long)."""
    return torch.arange(cols) // min(group, cols)


def expand_groups(t: Tensor, cols: int, group: int) -> Tensor:
    """Per-(row, group) values [N, ng] broadcast to per-column [N, K]."""
    return t.index_select(1, group_index(cols, group).to(t.device))


# ----------------------------------------------------------------------------- weights


def qmax(bits: int) -> int:
    """Largest code ``2^b − 1``."""
    return (1 << bits) - 1


def symmetric_zero(bits: int) -> int:
    """Zero point of the symmetric grid, ``2^(b−1)``."""
    return 1 << (bits - 1)


def codes_from_scales(w: Tensor, s16: Tensor, z: Tensor, bits: int, group: int) -> Tensor:
    """Documented round/clamp (§1.2): ``clamp(round(w / float(s16)) + z, 0, 2^b−1)``.

    ``w`` [N, K] (any float dtype, converted to fp32), ``s16`` [N, ng] fp16,
    ``z`` [N, ng] integers. Groups with scale 0 get code ``z``.
    """
    n, k = w.shape
    s = expand_groups(s16.float(), k, group)
    zz = expand_groups(z.to(torch.float32), k, group)
    with torch.no_grad():
        ratio = w.float() / torch.where(s == 0, torch.ones_like(s), s)
        q = torch.clamp(torch.round(ratio) + zz, 0, qmax(bits))
        q = torch.where(s == 0, zz, q)
    return q.to(torch.uint8)


def minmax_params(
    w: Tensor, bits: int, group: int, symmetric: bool, clip: Optional[Tensor] = None
) -> Tuple[Tensor, Tensor]:
    """fp32 scale and integer zero point per (row, group) from the (clipped) range.

    Symmetric: ``s = clip·absmax / 2^(b−1)``, ``z = 2^(b−1)`` (the most negative code
    then reaches −absmax, the positive side stops one step short). Asymmetric:
    ``s = clip·(max − min) / (2^b − 1)`` with min ≤ 0 ≤ max, ``z = clamp(round(−min/s))``.
    ``clip`` is a ratio in (0, 1] per (row, group) (default 1). All-zero groups get
    ``s = 1`` (their codes are then all ``z``). Returns (s fp32 [N, ng], z uint8 [N, ng]).
    """
    wg = _grouped(w.float(), group)  # [N, ng, Ge] padded with zeros
    c = torch.ones(wg.shape[:2], device=wg.device) if clip is None else clip.float()
    if symmetric:
        amax = wg.abs().amax(-1) * c
        s = amax / symmetric_zero(bits)
        z = torch.full_like(s, symmetric_zero(bits))
    else:
        lo = torch.clamp(wg.amin(-1), max=0) * c
        hi = torch.clamp(wg.amax(-1), min=0) * c
        s = (hi - lo) / qmax(bits)
        z = torch.clamp(torch.round(-lo / torch.where(s > 0, s, torch.ones_like(s))), 0, qmax(bits))
    s = torch.where(s > 0, s, torch.ones_like(s))
    return s, z.to(torch.uint8)


def _grouped(w: Tensor, group: int) -> Tensor:
    """[N, K] → [N, ng, Ge] with the last group zero-padded (zeros do not change absmax/min/max)."""
    n, k = w.shape
    ge = min(group, k)
    ng = -(-k // ge)
    if ng * ge != k:
        w = torch.nn.functional.pad(w, (0, ng * ge - k))
    return w.reshape(n, ng, ge)


def fp16_scale(s: Tensor) -> Tensor:
    """fp32 → fp16, round to nearest even (torch ``.half()``), as the exporter stores it.

    Magnitudes above the fp16 range are clamped to the largest finite fp16 so that
    ``Pack`` never sees an infinite scale.
    """
    return torch.clamp(s.float(), -65504.0, 65504.0).half()


@dataclass
class QuantizedWeight:
    """One quantized matrix: codes [N, K] uint8, scales [N, ng] fp16, zeros [N, ng] uint8."""

    codes: Tensor
    scales: Tensor
    zeros: Tensor
    bits: int
    group: int

    @property
    def layout(self) -> Layout:
        return Layout(self.bits, self.codes.shape[0], self.codes.shape[1], self.group)

    def dequantize(self) -> Tensor:
        """``(q − z)·float(s)`` in fp32 (exact: a small integer times an fp16 value)."""
        k = self.codes.shape[1]
        s = expand_groups(self.scales.float(), k, self.group)
        z = expand_groups(self.zeros.to(torch.float32), k, self.group)
        return (self.codes.to(torch.float32) - z) * s

    def pack(self) -> bytes:
        return pack(self.codes, self.scales, self.zeros, self.bits)


def quantize_weight(
    w: Tensor,
    bits: int,
    group: int,
    symmetric: bool,
    scale: Optional[Tensor] = None,
    zero: Optional[Tensor] = None,
) -> QuantizedWeight:
    """Quantizes ``w`` [N, K]; min/max parameters unless ``scale``/``zero`` (fp32 / int) are given.

    The scale is rounded to fp16 *before* the codes are computed (§1.2).
    """
    Layout(bits, w.shape[0], w.shape[1], group)  # validates
    if scale is None:
        scale, z0 = minmax_params(w, bits, group, symmetric)
        zero = z0 if zero is None else zero
    if zero is None:
        zero = torch.full(scale.shape, symmetric_zero(bits), dtype=torch.uint8)
    s16 = fp16_scale(scale)
    z = zero.to(torch.uint8)
    return QuantizedWeight(codes_from_scales(w, s16, z, bits, group), s16, z, bits, group)


# ----------------------------------------------------------------------------- activations


@dataclass
class QuantizedActivations:
    """Per-row int8 codes [M, K], scales sx [M] fp32, per-group code sums [M, ng] int32."""

    codes: Tensor
    scales: Tensor
    sums: Tensor

    def dequantize(self) -> Tensor:
        """``xq·sx`` in fp32 (what the fake quantizer feeds a float matmul)."""
        return self.codes.to(torch.float32) * self.scales[:, None]


def activation_codes(x: Tensor) -> Tuple[Tensor, Tensor]:
    """§2 on the last dimension of ``x`` (any leading shape): (codes as fp32 in [−127, 127], sx).

    ``inv = 127/amax`` (fp32 division), codes ``clamp(round_half_even(x·inv))`` (fp32
    multiply), ``sx = amax/127``; rows with amax 0 or a non-finite inverse give 0, 0.
    """
    x = x.float()
    amax = x.abs().amax(-1, keepdim=True)
    # NOT ``127.0 / amax``: torch evaluates scalar / tensor as reciprocal(amax) * 127,
    # which differs from the C++ fp32 division in about a quarter of all cases.
    inv = torch.div(torch.full_like(amax, 127.0), amax)
    ok = (amax > 0) & torch.isfinite(inv)
    inv = torch.where(ok, inv, torch.zeros_like(inv))
    xq = torch.clamp(torch.round(x * inv), -127, 127)
    sx = torch.where(ok, amax / 127.0, torch.zeros_like(amax))
    return xq, sx


def quantize_activations(x: Tensor, group: int) -> QuantizedActivations:
    """Quantizes rows of ``x`` [M, K] for weights grouped by ``group`` (for the sums)."""
    xq, sx = activation_codes(x)
    m, k = xq.shape
    sums = _grouped(xq.to(torch.int64), group).sum(-1).to(torch.int32)
    return QuantizedActivations(xq.to(torch.int8), sx[:, 0], sums)


# ----------------------------------------------------------------------------- exact arithmetic


def fma32(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Exact IEEE fp32 ``fma(a, b, c)`` (one rounding, to nearest even) for fp32 tensors.

    The product of two fp32 values has at most 48 significant bits, so it is exact in
    fp64; the fp64 sum ``S = fl64(p + c)`` is corrected with its exact error ``E``
    (TwoSum). Rounding ``S`` to fp32 can only differ from rounding ``p + c`` when ``S``
    is exactly halfway between two fp32 values (fp32 midpoints are fp64 numbers, so
    fp64 rounding never crosses one); then ``S`` is nudged one fp64 ulp toward ``E``.
    Results that overflow fp32 are not handled (they do not occur in the kernels).
    """
    p = a.double() * b.double()
    cd = c.double()
    s = p + cd
    bb = s - p
    err = (p - (s - bb)) + (cd - bb)
    bits = s.view(torch.int64)
    exp = ((bits >> 52) & 0x7FF) - 1023
    drop = torch.clamp(29 + torch.clamp(-126 - exp, min=0), max=62)  # fp64 bits below fp32 precision
    low = bits & ((torch.ones_like(bits) << drop) - 1)
    midpoint = (low == (torch.ones_like(bits) << (drop - 1))) & (err != 0) & (s != 0)
    nudged = torch.nextafter(s, torch.where(err > 0, torch.full_like(s, np.inf), torch.full_like(s, -np.inf)))
    return torch.where(midpoint, nudged, s).float()


def group_dots(xq: QuantizedActivations, w: QuantizedWeight) -> Tensor:
    """Exact ``d[m][n][g] = Σ_{k∈g} xq·q − z·xsum`` as int32 [M, N, ng] (§3.1).

    Computed in fp64 (exact: every partial sum is below 2^31 < 2^53) and checked to
    fit int32 like the kernels'.
    """
    x = _grouped(xq.codes.double(), w.group)  # [M, ng, Ge]
    q = _grouped(w.codes.double(), w.group)  # [N, ng, Ge]
    acc = torch.einsum("mgk,ngk->mng", x, q)
    d = acc - w.zeros.double()[None, :, :] * xq.sums.double()[:, None, :]
    if d.abs().max() >= 2**31:
        raise OverflowError("group dot outside int32")
    return d.to(torch.int64).to(torch.int32)


def gemm_a8(xq: QuantizedActivations, w: QuantizedWeight, bias: Optional[Tensor] = None) -> Tensor:
    """fp32 output of ``GemmA8`` [M, N], bit-identical to ``ref::GemmA8`` (§3.1)."""
    d = group_dots(xq, w).float()  # int32 → fp32, round to nearest even
    s = w.scales.float()  # [N, ng]
    a = torch.zeros(d.shape[:2])
    for g in range(d.shape[2]):
        a = fma32(s[None, :, g].expand_as(a), d[:, :, g], a)
    b = torch.zeros(a.shape[1]) if bias is None else bias.float()
    return fma32(xq.scales[:, None].expand_as(a), a, b[None, :].expand_as(a))


def gemm_f32(x: Tensor, w: QuantizedWeight, bias: Optional[Tensor] = None) -> Tensor:
    """fp32 output of ``GemmF32`` [M, N], bit-identical to ``ref::GemmF32`` (§3.2).

    Sequential over K (one exact fma per column): meant for tests and small shapes.
    """
    x = x.float()
    m, k = x.shape
    n = w.codes.shape[0]
    ge = min(w.group, k)
    qz = w.codes.to(torch.float32) - expand_groups(w.zeros.to(torch.float32), k, w.group)  # exact
    y = torch.zeros(m, n)
    for g in range(w.layout.groups):
        a = torch.zeros(m, n)
        for i in range(g * ge, min(k, (g + 1) * ge)):
            a = fma32(x[:, i : i + 1].expand(m, n), qz[None, :, i].expand(m, n), a)
        y = fma32(w.scales[None, :, g].float().expand(m, n), a, y)
    return y + (torch.zeros(n) if bias is None else bias.float())[None, :]


def gemm_a8_float(x: Tensor, w: QuantizedWeight, bias: Optional[Tensor] = None) -> Tensor:
    """Same maths as :func:`gemm_a8` in ordinary fp32 (quantize, dequantize, matmul).

    What fake quantization computes; differs from the exact result only by fp32
    rounding, bounded by ``(K + 2)·2^-23·(Σ|sx·s·xq·(q−z)| + |bias|)``.
    """
    xq = quantize_activations(x, w.group)
    return torch.nn.functional.linear(xq.dequantize(), w.dequantize(), bias)


# ----------------------------------------------------------------------------- packing


def pack(q: Tensor, s16: Tensor, z: Tensor, bits: int) -> bytes:
    """Packed bytes of §1.3 (codes, then fp16 scales, then zero points); vectorised.

    Equal byte for byte to :func:`pack_reference` (the loop in the doc) and to the
    C++ ``Pack``.
    """
    qn = q.cpu().numpy().astype(np.uint8)
    n, k = qn.shape
    ng = s16.shape[1]
    lay = Layout(bits, n, k, _group_for(k, ng))
    if int(qn.max(initial=0)) > qmax(bits) or int(z.max()) > qmax(bits):
        raise ValueError("code or zero point out of range")
    if not torch.isfinite(s16.float()).all():
        raise ValueError("non-finite scale")
    t, kp = lay.tiles, lay.padded_cols
    full = np.zeros((t * TILE_ROWS, kp), np.uint8)
    full[:n, :k] = qn
    # [T, r, SB, kb, kk] → superblock-major, then block, then lane L = 4r + kk
    blocks = full.reshape(t, TILE_ROWS, kp // 32, 8, 4).transpose(0, 2, 3, 1, 4).astype(np.uint16)
    blocks = blocks.reshape(t, kp // 32, 8, 32)  # [T, SB, kb, L]
    if bits == 3:
        lo = _planes(blocks & 3, 2)
        hi = np.zeros(blocks.shape[:2] + (32,), np.uint16)
        for kb in range(8):
            hi |= (blocks[:, :, kb] >> 2) << kb
        codes = np.concatenate([lo, hi[:, :, None, :]], axis=2)
    else:
        codes = _planes(blocks, bits)
    scales = np.zeros((t, ng, TILE_ROWS), "<f2")
    zeros = np.zeros((t, ng, TILE_ROWS), np.uint8)
    rows = np.arange(n)
    scales[rows // 8, :, rows % 8] = s16.cpu().numpy().astype("<f2")
    zeros[rows // 8, :, rows % 8] = z.cpu().numpy().astype(np.uint8)
    return codes.astype(np.uint8).tobytes() + scales.tobytes() + zeros.tobytes()


def _planes(blocks: np.ndarray, bits: int) -> np.ndarray:
    """[T, SB, 8 blocks, 32 lanes] codes → [T, SB, 8·bits/8 byte rows, 32]: ``8/bits`` blocks per byte."""
    per = 8 // bits
    b = blocks.reshape(blocks.shape[0], blocks.shape[1], 8 // per, per, 32)
    out = np.zeros(b.shape[:3] + (32,), np.uint16)
    for i in range(per):
        out |= b[:, :, :, i] << (bits * i)
    return out


def _group_for(cols: int, groups: int) -> int:
    """A group size giving ``groups`` groups over ``cols`` columns (the smallest multiple of 32)."""
    if groups == 1:
        return cols
    g = -(-cols // groups)
    g = -(-g // SUPERBLOCK_COLS) * SUPERBLOCK_COLS
    if num_groups(cols, g) != groups:
        raise ValueError(f"no group size gives {groups} groups over {cols} columns")
    return g


def pack_reference(q: Tensor, s16: Tensor, z: Tensor, b: int) -> bytes:
    """The loop from docs/QUANTIZATION.md §1.3, kept verbatim in spirit as the oracle for :func:`pack`."""
    qn = q.numpy()
    n, k = qn.shape
    t_n = -(-n // 8)
    kp = -(-k // 32) * 32
    ng = s16.shape[1]
    codes = bytearray(t_n * kp * b)
    for row in range(n):
        t, r = divmod(row, 8)
        for col in range(k):
            sb, c = divmod(col, 32)
            kb, kk = divmod(c, 4)
            lane = 4 * r + kk
            base = (t * (kp // 32) + sb) * 32 * b
            v = int(qn[row, col])
            if b == 8:
                codes[base + 32 * kb + lane] = v
            elif b == 4:
                codes[base + 32 * (kb // 2) + lane] |= v << (4 * (kb % 2))
            elif b == 2:
                codes[base + 32 * (kb // 4) + lane] |= v << (2 * (kb % 4))
            else:
                codes[base + 32 * (kb // 4) + lane] |= (v & 3) << (2 * (kb % 4))
                codes[base + 64 + lane] |= (v >> 2) << kb
    scales = np.zeros((t_n, ng, 8), np.float16)
    zeros = np.zeros((t_n, ng, 8), np.uint8)
    for row in range(n):
        scales[row // 8, :, row % 8] = s16[row].numpy()
        zeros[row // 8, :, row % 8] = z[row].numpy()
    return bytes(codes) + scales.astype("<f2").tobytes() + zeros.tobytes()


def unpack(blob: bytes, bits: int, rows: int, cols: int, group: int) -> QuantizedWeight:
    """Inverse of :func:`pack` (like the C++ ``Unpack``); checks the blob size."""
    lay = Layout(bits, rows, cols, group)
    if len(blob) != lay.total_bytes:
        raise ValueError(f"packed blob is {len(blob)} bytes, expected {lay.total_bytes}")
    t, kp, ng = lay.tiles, lay.padded_cols, lay.groups
    raw = np.frombuffer(blob, np.uint8)
    sbb = 32 * bits
    cb = raw[: lay.code_bytes].reshape(t, kp // 32, sbb).astype(np.uint16)
    blocks = np.zeros((t, kp // 32, 8, 32), np.uint16)
    plane_bits = 2 if bits == 3 else bits
    per = 8 // plane_bits
    mask = (1 << plane_bits) - 1
    for kb in range(8):
        blocks[:, :, kb] = (cb[:, :, 32 * (kb // per) : 32 * (kb // per) + 32] >> (plane_bits * (kb % per))) & mask
        if bits == 3:
            blocks[:, :, kb] |= ((cb[:, :, 64:96] >> kb) & 1) << 2
    full = blocks.reshape(t, kp // 32, 8, TILE_ROWS, 4).transpose(0, 3, 1, 2, 4).reshape(t * TILE_ROWS, kp)
    scales = np.frombuffer(blob, "<f2", count=t * ng * 8, offset=lay.code_bytes).reshape(t, ng, 8)
    zeros = raw[lay.code_bytes + lay.scale_bytes :].reshape(t, ng, 8)
    s16 = scales.transpose(0, 2, 1).reshape(t * 8, ng)[:rows].astype(np.float16)
    z = zeros.transpose(0, 2, 1).reshape(t * 8, ng)[:rows]
    return QuantizedWeight(
        torch.from_numpy(full[:rows, :cols].astype(np.uint8).copy()),
        torch.from_numpy(s16.copy()),
        torch.from_numpy(z.copy()),
        bits,
        group,
    )

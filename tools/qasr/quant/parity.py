"""Test vectors for the Python ↔ C++ bit-exactness test (tests/kernels/python_parity_test.cc).

    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant.parity --out build/.../python_parity

Writes ``cases.txt`` (one line per case: ``name bits M N K G``) and, per case, a
folder of raw little-endian arrays computed by :mod:`qasr.quant.formats`:

========== ======= ============ ==================================================
file       dtype   shape        content
========== ======= ============ ==================================================
codes      uint8   N·K          weight codes, row-major
scales     uint16  N·ng         fp16 bit patterns
zeros      uint8   N·ng         zero points
packed     uint8   layout bytes ``pack()`` output (§1.3)
x          float32 M·K          activations (row stride K)
bias       float32 N
xq         int8    M·K          activation codes (§2)
sx         float32 M            activation scales
xsum       int32   M·ng         per-group code sums
dots       int32   M·N·ng       corrected group dots d_g (§3.1)
y_a8       float32 M·N          GemmA8 output (with bias)
y_f32      float32 M·N          GemmF32 output (with bias)
========== ======= ============ ==================================================

Exits 77 (ctest's "skipped") when torch is missing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Tuple

try:
    import numpy as np
    import torch
except ImportError:  # pragma: no cover - exercised only without torch
    print("python_parity: torch/numpy not available, skipping", file=sys.stderr)
    sys.exit(77)

from . import formats as F

WHOLE_ROW = 1 << 20
# (M, N, K, G): tails in every dimension, whole-row groups, K not a multiple of G.
SHAPES: Tuple[Tuple[int, int, int, int], ...] = (
    (1, 1, 1, 32),
    (3, 9, 33, 32),
    (2, 8, 32, WHOLE_ROW),
    (5, 23, 97, 64),
    (4, 16, 64, WHOLE_ROW),
    (7, 13, 257, 128),
    (6, 40, 100, 32),
    (3, 17, 300, WHOLE_ROW),
    (9, 12, 576, 64),
)


def _weights(kind: str, bits: int, n: int, k: int, g: int, gen: torch.Generator) -> F.QuantizedWeight:
    """``random``: arbitrary codes/zeros and ± scales incl. extremes; ``sym``/``asym``: quantized floats."""
    ng = F.num_groups(k, g)
    if kind == "random":
        codes = torch.randint(0, 1 << bits, (n, k), generator=gen, dtype=torch.uint8)
        zeros = torch.randint(0, 1 << bits, (n, ng), generator=gen, dtype=torch.uint8)
        mag = torch.exp2(torch.rand(n, ng, generator=gen) * 8 - 10)
        sign = torch.where(torch.rand(n, ng, generator=gen) < 0.5, -1.0, 1.0)
        s16 = (mag * sign).half()
        flat = s16.view(-1)
        flat[::7] = torch.tensor(65504.0).half()  # largest finite fp16
        flat[3::11] = torch.tensor(2.0**-24).half()  # smallest subnormal
        flat[5::13] = 0.0
        return F.QuantizedWeight(codes, s16, zeros, bits, g)
    w = torch.randn(n, k, generator=gen) * 0.05
    w[:, ::17] *= 6.0  # outlier columns
    return F.quantize_weight(w, bits, g, symmetric=(kind == "sym"))


def _activations(m: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """Gaussian rows with outliers, plus an all-zero row, a tiny row and a row of exact ties."""
    x = torch.randn(m, k, generator=gen)
    x[:, ::13] *= 8.0
    if m >= 3:
        x[1] = 0.0
        x[2] = torch.randn(k, generator=gen) * 1e-38  # 127/amax overflows → zero codes
    if m >= 4:
        # amax = 127 makes inv = 1 exactly, so ±(j + 0.5) are exact ties (round half to even)
        x[3] = (torch.arange(k) % 9 - 4).float() + 0.5
        x[3, 0] = 127.0
    if m >= 5:
        x[4] = _rounding_trap_row(k, gen)
    return x


def _rounding_trap_row(k: int, gen: torch.Generator) -> torch.Tensor:
    """A row whose codes depend on computing ``inv`` as a true fp32 division.

    Its amax is one where ``reciprocal(amax)·127`` (what torch does for
    ``127.0 / tensor``) is one ulp off ``127/amax``; the other entries sit within a
    few ulps of ``(j + 0.5)/inv``, where that ulp flips the rounded code.
    """
    amax = torch.rand(256, generator=gen) * 10 + 0.1
    inv = torch.div(torch.full_like(amax, 127.0), amax)
    i = int((inv != amax.reciprocal() * 127.0).nonzero()[0, 0])
    a, good, bad = amax[i], inv[i], amax[i].reciprocal() * 127.0
    traps = []
    for j in range(127):
        c = torch.tensor((j + 0.5) / float(good), dtype=torch.float32)
        for step in (-2, -1, 0, 1, 2):
            v = c
            for _ in range(abs(step)):
                v = torch.nextafter(v, torch.tensor(float("inf") if step > 0 else float("-inf")))
            if torch.round(v * good) != torch.round(v * bad):
                traps.append(float(v))
    row = torch.tensor(traps * (k // max(1, len(traps)) + 1))[:k]
    row = row * torch.where(torch.rand(k, generator=gen) < 0.5, -1.0, 1.0)
    row[0] = a
    return row


def _write(d: Path, name: str, a: np.ndarray) -> None:
    (d / name).write_bytes(np.ascontiguousarray(a).tobytes())


def write_case(out: Path, name: str, bits: int, shape: Tuple[int, int, int, int], kind: str, seed: int) -> str:
    """Computes one case with the Python reference and writes its folder; returns its manifest line."""
    m, n, k, g = shape
    gen = torch.Generator().manual_seed(seed)
    w = _weights(kind, bits, n, k, g, gen)
    x = _activations(m, k, gen)
    bias = torch.randn(n, generator=gen)
    xq = F.quantize_activations(x, g)
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    _write(d, "codes", w.codes.numpy())
    _write(d, "scales", w.scales.numpy().view(np.uint16).astype("<u2"))
    _write(d, "zeros", w.zeros.numpy())
    _write(d, "packed", np.frombuffer(w.pack(), np.uint8))
    _write(d, "x", x.numpy().astype("<f4"))
    _write(d, "bias", bias.numpy().astype("<f4"))
    _write(d, "xq", xq.codes.numpy())
    _write(d, "sx", xq.scales.numpy().astype("<f4"))
    _write(d, "xsum", xq.sums.numpy().astype("<i4"))
    _write(d, "dots", F.group_dots(xq, w).numpy().astype("<i4"))
    _write(d, "y_a8", F.gemm_a8(xq, w, bias).numpy().astype("<f4"))
    _write(d, "y_f32", F.gemm_f32(x, w, bias).numpy().astype("<f4"))
    return f"{name} {bits} {m} {n} {k} {g}"


def generate(out: Path) -> List[str]:
    """Writes every case under ``out``; returns the manifest lines."""
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    lines: List[str] = []
    seed = 1000
    for bits in F.BITS:
        for i, shape in enumerate(SHAPES):
            for kind in ("random", "sym", "asym"):
                seed += 1
                name = f"w{bits}_{kind}_m{shape[0]}n{shape[1]}k{shape[2]}g{min(shape[3], shape[2])}"
                lines.append(write_case(out, name, bits, shape, kind, seed))
    (out / "cases.txt").write_text("\n".join(lines) + "\n")
    return lines


def main(argv: List[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    args = p.parse_args(argv)
    lines = generate(args.out)
    print(f"python_parity: {len(lines)} cases in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

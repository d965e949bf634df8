"""qasr.quant.formats: packing, rounding, activation quantization and exact fp32 arithmetic.

The C++ side of the contract is tests/kernels/python_parity_test.cc (ctest); these
tests pin the Python side on its own.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from qasr.quant import formats as F

torch.set_num_threads(1)

SHAPES = [(1, 1, 32), (9, 33, 32), (8, 64, 1 << 20), (23, 97, 64), (13, 257, 128), (3, 300, 1 << 20)]


def _random_weight(bits: int, n: int, k: int, g: int, seed: int) -> F.QuantizedWeight:
    gen = torch.Generator().manual_seed(seed)
    ng = F.num_groups(k, g)
    q = torch.randint(0, 1 << bits, (n, k), generator=gen, dtype=torch.uint8)
    z = torch.randint(0, 1 << bits, (n, ng), generator=gen, dtype=torch.uint8)
    s = torch.randn(n, ng, generator=gen).half()
    return F.QuantizedWeight(q, s, z, bits, g)


@pytest.mark.parametrize("bits", F.BITS)
def test_pack_matches_doc_loop_and_unpacks(bits: int) -> None:
    for i, (n, k, g) in enumerate(SHAPES):
        w = _random_weight(bits, n, k, g, i)
        blob = w.pack()
        assert len(blob) == w.layout.total_bytes
        assert blob == F.pack_reference(w.codes, w.scales, w.zeros, bits)
        back = F.unpack(blob, bits, n, k, g)
        assert torch.equal(back.codes, w.codes) and torch.equal(back.zeros, w.zeros)
        assert torch.equal(back.scales.view(torch.int16), w.scales.view(torch.int16))


def test_pack_byte_positions() -> None:
    """Spot checks straight from the §1.3 table (row 9 → tile 1, r 1; column 37 → sb 1, kb 1, kk 1)."""
    n, k = 10, 64
    for bits, (byte, shift) in {8: (32 * 1 + 5, 0), 4: (5, 4), 2: (5, 2)}.items():
        q = torch.zeros(n, k, dtype=torch.uint8)
        q[9, 37] = 1
        blob = F.pack(q, torch.zeros(n, 1).half(), torch.zeros(n, 1, dtype=torch.uint8), bits)
        base = (1 * 2 + 1) * 32 * bits  # tile 1, superblock 1
        assert blob[base + byte] == 1 << shift
        assert sum(blob) == 1 << shift
    q = torch.zeros(n, k, dtype=torch.uint8)
    q[9, 37] = 7  # 3-bit: low plane byte 5 bits 2..3, high plane byte 64 + 5 bit 1
    blob = F.pack(q, torch.zeros(n, 1).half(), torch.zeros(n, 1, dtype=torch.uint8), 3)
    base = 3 * 96
    assert blob[base + 5] == 3 << 2 and blob[base + 64 + 5] == 1 << 1


def test_pack_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        F.pack(torch.full((2, 4), 4, dtype=torch.uint8), torch.ones(2, 1).half(), torch.zeros(2, 1, dtype=torch.uint8), 2)
    with pytest.raises(ValueError):
        F.pack(torch.zeros(2, 4, dtype=torch.uint8), torch.full((2, 1), float("inf")).half(), torch.zeros(2, 1, dtype=torch.uint8), 4)
    with pytest.raises(ValueError):
        F.Layout(4, 8, 100, 48)  # group not a multiple of 32 and smaller than K


def test_weight_rounding_is_documented_one() -> None:
    s = torch.tensor([[0.1]])
    s16 = s.half().float()  # 0.0999755859375: the codes must use the ROUNDED scale
    w = torch.tensor([[2.5, 3.5, -2.5, 1000.0, -1000.0]]) * s16  # exact ties → even
    qw = F.quantize_weight(w, 4, 32, symmetric=True, scale=s)
    assert qw.codes.tolist() == [[8 + 2, 8 + 4, 8 - 2, 15, 0]]
    assert qw.scales.dtype == torch.float16 and float(qw.scales) == float(s16)
    zero = F.quantize_weight(torch.ones(1, 4), 2, 32, symmetric=False, scale=torch.zeros(1, 1), zero=torch.tensor([[1]]))
    assert zero.codes.tolist() == [[1, 1, 1, 1]]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", F.BITS)
def test_minmax_quantization_error_bounded(bits: int, symmetric: bool) -> None:
    w = torch.randn(16, 200)
    qw = F.quantize_weight(w, bits, 64, symmetric)
    err = (qw.dequantize() - w).abs()
    step = F.expand_groups(qw.scales.float(), 200, 64)
    # half a step, or a whole one at +absmax for symmetric grids (one step past the top code);
    # the fp16-rounded scale (relative error ≤ 2^-11) can push range ends ≤ qmax·2^-11 steps further
    limit = step * ((1.0 if symmetric else 0.5) + F.qmax(bits) * 2.0**-10)
    assert bool((err <= limit).all())
    assert int(qw.codes.max()) <= F.qmax(bits)


def test_activation_quantization_edge_rows() -> None:
    x = torch.zeros(4, 40)
    x[0] = torch.arange(40) % 9 - 4 + 0.5
    x[0, 0] = 127.0  # inv = 1 → exact ties round half to even
    x[2] = torch.randn(40) * 1e-38  # 127 / amax overflows → zero codes, zero scale
    x[3] = torch.randn(40) * 5
    xq = F.quantize_activations(x, 32)
    want = torch.round(x[0])  # torch.round is half-to-even
    assert torch.equal(xq.codes[0].float(), want)
    assert int(xq.codes[0, 1]) == -2 and int(xq.codes[0, 2]) == -2  # -2.5 → -2, -1.5 → -2
    assert xq.codes[1].abs().sum() == 0 and float(xq.scales[1]) == 0.0
    assert xq.codes[2].abs().sum() == 0 and float(xq.scales[2]) == 0.0
    assert int(xq.codes[3].abs().max()) == 127 and int(xq.codes.min()) >= -127
    assert xq.sums.tolist()[3] == [int(xq.codes[3, :32].sum()), int(xq.codes[3, 32:].sum())]


def test_activation_inverse_is_a_true_division() -> None:
    """torch's ``127.0 / t`` is reciprocal·127; the format needs the fp32 division."""
    amax = torch.rand(20000) * 10 + 0.1
    x = torch.stack([amax, torch.zeros_like(amax)], 1)
    _, sx = F.activation_codes(x)
    inv = torch.from_numpy(np.float32(127.0) / amax.numpy())
    xq, _ = F.activation_codes(torch.stack([amax, 0.37 * amax], 1))
    assert torch.equal(xq[:, 1], torch.clamp(torch.round((0.37 * amax) * inv), -127, 127))
    assert torch.equal(sx[:, 0], torch.from_numpy(amax.numpy() / np.float32(127.0)))


def _round_f32(v: Fraction) -> float:
    """Exact round-to-nearest-even of a rational to fp32 (oracle)."""
    c = np.float32(float(v))
    best = None
    for cand in (np.nextafter(c, np.float32(-np.inf)), c, np.nextafter(c, np.float32(np.inf))):
        d = abs(Fraction(float(cand)) - v)
        key = (d, int(np.frombuffer(np.float32(cand).tobytes(), np.uint32)[0]) & 1)
        if best is None or key < best[0]:
            best = (key, cand)
    return float(best[1])


def test_fma32_is_exactly_rounded() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(3000, generator=gen)
    b = torch.randn(3000, generator=gen)
    c = torch.randn(3000, generator=gen) * 1e-3
    # force midpoint cases: c chosen so that a·b + c is near an fp32 midpoint
    ab32 = (a * b).double()
    c[:1000] = (ab32[:1000] * 2.0**-24).float()
    got = F.fma32(a, b, c)
    for i in range(0, 3000, 7):
        want = _round_f32(Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i])))
        assert float(got[i]) == want, i


def test_fma32_midpoint_double_rounding_case() -> None:
    """p + c exactly 1 + 2^-24 + 2^-60: fp64 rounds to the midpoint, fp32 must round up."""
    a = torch.tensor([1.0 + 2.0**-23])
    b = torch.tensor([1.0 + 2.0**-23])  # a·b = 1 + 2^-22 + 2^-46
    c = torch.tensor([-(2.0**-23)])  # sum = 1 + 2^-23 + 2^-46: not a midpoint; check a crafted one too
    assert float(F.fma32(a, b, c)) == _round_f32(Fraction(float(a[0])) ** 2 + Fraction(float(c[0])))
    a = torch.tensor([1.0 + 2.0**-12])
    b = torch.tensor([1.0 + 2.0**-12])  # a·b = 1 + 2^-11 + 2^-24 (exact midpoint after + 0)
    c = torch.tensor([-(2.0**-11) + 2.0**-30 * 0]).float()
    want = _round_f32(Fraction(float(a[0])) * Fraction(float(b[0])) + Fraction(float(c[0])))
    assert float(F.fma32(a, b, c)) == want


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_group_dots_and_outputs(bits: int) -> None:
    w = _random_weight(bits, 11, 100, 32, 5)
    x = torch.randn(6, 100)
    xq = F.quantize_activations(x, 32)
    d = F.group_dots(xq, w)
    qz = w.codes.long() - F.expand_groups(w.zeros.long(), 100, 32)
    for g in range(4):
        sl = slice(32 * g, min(100, 32 * g + 32))
        assert torch.equal(d[:, :, g].long(), xq.codes[:, sl].long() @ qz[:, sl].t())
    bias = torch.randn(11)
    y = F.gemm_a8(xq, w, bias)
    yf = F.gemm_a8_float(x, w, bias)
    terms = (xq.scales[:, None, None] * w.scales.float()[None] * d.float()).abs().sum(-1) + bias.abs()
    assert bool(((y - yf).abs() <= (100 + 2) * 2.0**-23 * terms + 1e-30).all())
    y32 = F.gemm_f32(x, w, bias)
    ref = torch.nn.functional.linear(x.double(), w.dequantize().double(), bias.double())
    assert torch.allclose(y32.double(), ref, rtol=1e-4, atol=1e-4)

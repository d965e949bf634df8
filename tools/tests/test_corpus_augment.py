"""Tests for qasr.corpus.augment: determinism, length and finiteness, SNR, filters."""

from __future__ import annotations

import numpy as np
import pytest

from qasr.corpus import augment

SR = augment.SR


def _speechlike(seed: int = 0, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    x = env * (np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 1800 * t)) + 0.01 * rng.standard_normal(t.size)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def test_specs_are_deterministic() -> None:
    a = [augment.sample_spec(np.random.default_rng([1, 0, i]), True) for i in range(50)]
    b = [augment.sample_spec(np.random.default_rng([1, 0, i]), True) for i in range(50)]
    assert a == b
    assert all(augment.describe(s) != "clean" for s in a)
    assert augment.describe(augment.sample_spec(np.random.default_rng(3), False)) == "clean"


@pytest.mark.parametrize("i", range(12))
def test_apply_keeps_length_and_is_finite(i: int) -> None:
    x = _speechlike(i)
    bank = [_speechlike(100 + k, 1.0 + 0.3 * k) for k in range(4)]
    spec = augment.sample_spec(np.random.default_rng([7, i]), True)
    y = augment.apply(x, spec, bank)
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    if "speed" in spec:
        assert abs(len(y) - len(x) / spec["speed"]) <= 0.01 * len(x)
    else:
        assert len(y) == len(x)
    assert np.max(np.abs(y)) == pytest.approx(10 ** (spec["peak_db"] / 20), rel=1e-3)
    np.testing.assert_array_equal(y, augment.apply(x, spec, bank))  # deterministic


def test_noise_snr() -> None:
    x = _speechlike(1)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(x)).astype(np.float32)
    y = augment.add_noise(x, noise, 10.0)
    active = x[np.abs(x) > 0.02 * np.max(np.abs(x))]
    snr = 10 * np.log10(np.mean(active**2) / np.mean((y - x) ** 2))
    assert snr == pytest.approx(10.0, abs=0.2)


def test_telephone_band() -> None:
    t = np.arange(SR) / SR
    low, mid, high = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (100.0, 1000.0, 6000.0))
    rms = lambda v: float(np.sqrt(np.mean(v[2000:-2000] ** 2)))  # noqa: E731
    assert rms(augment.telephone(mid)) == pytest.approx(rms(mid), rel=0.02)
    assert rms(augment.telephone(low)) < 0.01 and rms(augment.telephone(high)) < 0.01
    assert rms(augment.resample_roundtrip_8k(high)) < 0.01
    assert len(augment.resample_roundtrip_8k(mid)) == len(mid)


def test_rir_decay() -> None:
    rir = augment.synthetic_rir(np.random.default_rng(0), 0.5)
    assert rir[0] == 1.0 and np.all(np.isfinite(rir))
    first, last = np.sum(rir[1:800] ** 2), np.sum(rir[-800:] ** 2)
    assert last < first * 1e-3
    y = augment.reverb(_speechlike(2), rir)
    assert len(y) == SR * 2 and np.all(np.isfinite(y))

"""qasr.features against an independent numpy implementation of the spec §1 formula."""
from __future__ import annotations

import math

import numpy as np
import torch

from qasr.features import cmvn, compute_features, fbank, num_frames


def reference_fbank(wave_int16_scale: np.ndarray) -> np.ndarray:
    """Kaldi fbank (80 bins, 25/10 ms, povey, pre-emph 0.97, 512 FFT, power, log eps), dither 0."""
    win, hop, nfft, nmel, sr = 400, 160, 512, 80, 16000.0
    n = 1 + (len(wave_int16_scale) - win) // hop
    window = (0.5 - 0.5 * np.cos(2 * math.pi * np.arange(win) / (win - 1))) ** 0.85

    def mel(f: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log(1.0 + f / 700.0)

    lo, hi = mel(np.array(20.0)), mel(np.array(sr / 2))
    delta = (hi - lo) / (nmel + 1)
    fmel = mel(np.arange(nfft // 2) * sr / nfft)
    banks = np.zeros((nmel, nfft // 2 + 1))
    for m in range(nmel):
        left, center, right = lo + m * delta, lo + (m + 1) * delta, lo + (m + 2) * delta
        up = (fmel - left) / (center - left)
        down = (right - fmel) / (right - center)
        banks[m, : nfft // 2] = np.maximum(0.0, np.minimum(up, down))
    out = np.zeros((n, nmel))
    eps = np.finfo(np.float32).eps
    for t in range(n):
        x = wave_int16_scale[t * hop : t * hop + win].astype(np.float64)
        x = x - x.mean()
        prev = np.concatenate([[x[0]], x[:-1]])
        x = (x - 0.97 * prev) * window
        spec = np.abs(np.fft.rfft(x, nfft)) ** 2
        out[t] = np.log(np.maximum(banks @ spec, eps))
    return out


def test_fbank_matches_formula() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000 // 2) / 16000.0
    wave = 0.3 * np.sin(2 * math.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    ours = fbank(torch.tensor(wave, dtype=torch.float32)).numpy()
    ref = reference_fbank(wave * 32768.0)
    assert ours.shape == ref.shape == (num_frames(t.size), 80)
    assert np.max(np.abs(ours - ref)) < 2e-3


def test_num_frames_snip_edges() -> None:
    assert num_frames(399) == 0
    assert num_frames(400) == 1
    assert num_frames(16000) == 98
    assert fbank(torch.zeros(399)).shape == (0, 80)


def test_cmvn_unbiased_std() -> None:
    torch.manual_seed(0)
    x = torch.randn(50, 80) * 3 + 7
    y = cmvn(x)
    assert torch.allclose(y.mean(0), torch.zeros(80), atol=1e-5)
    assert torch.allclose(y.std(0, unbiased=True), torch.ones(80), atol=1e-5)


def test_cmvn_low_variance_rule_applies_to_all_dims() -> None:
    torch.manual_seed(0)
    x = torch.randn(20, 80)
    x[:, 5] = 1.0  # zero variance in one dim → every dim uses 1/(std + 1e-8)
    y = cmvn(x)
    std = x.std(0, unbiased=True)
    assert torch.allclose(y, (x - x.mean(0)) / (std + 1e-8))
    assert torch.all(y[:, 5] == 0)


def test_cmvn_single_frame_untouched() -> None:
    x = torch.randn(1, 80)
    assert torch.equal(cmvn(x), x)


def test_compute_features_is_fbank_then_cmvn() -> None:
    torch.manual_seed(1)
    w = torch.randn(8000) * 0.1
    assert torch.allclose(compute_features(w), cmvn(fbank(w)))

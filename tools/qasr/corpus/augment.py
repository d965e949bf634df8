"""Deterministic audio augmentation (numpy, plus torchaudio for resampling).

An augmentation is described by a plain dict *spec* drawn with
:func:`sample_spec` from the utterance's random generator, so the spec (and
its description string in the manifest) is known without touching audio, and
:func:`apply` reproduces the same output from the same spec.

Chain order: speed -> EQ -> reverberation -> band-limiting -> noise -> gain.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

SR = 16000
Spec = dict[str, Any]

# Parameters (documented in docs/CORPUS.md)
P_SPEED, SPEED_RANGE = 0.5, (0.9, 1.1)
P_EQ = 0.4
P_REVERB, RT60_RANGE = 0.4, (0.15, 0.9)
P_BAND, P_TEL = 0.2, 0.6  # band-limit probability; of which telephone (else 8 kHz round trip)
P_NOISE, SNR_RANGE = 0.6, (5.0, 30.0)
NOISE_TYPES, NOISE_P = ("white", "pink", "babble"), (0.25, 0.35, 0.40)
PEAK_DB_CLEAN, PEAK_DB_AUG = (-6.0, -1.0), (-26.0, -1.0)


def sample_spec(rng: np.random.Generator, noisy: bool) -> Spec:
    """Draw an augmentation spec; ``noisy=False`` gives a clean one (gain only)."""
    spec: Spec = {"seed": int(rng.integers(0, 2**31 - 1))}
    if not noisy:
        spec["peak_db"] = round(float(rng.uniform(*PEAK_DB_CLEAN)), 1)
        return spec
    while len(spec) == 1:  # at least one effect
        if rng.random() < P_SPEED:
            factor = round(float(rng.uniform(*SPEED_RANGE)) * 40.0) / 40.0  # 0.025 steps
            if factor != 1.0:
                spec["speed"] = factor
        if rng.random() < P_EQ:
            spec["eq"] = True
        if rng.random() < P_REVERB:
            spec["rt60"] = round(float(rng.uniform(*RT60_RANGE)), 2)
        if rng.random() < P_BAND:
            spec["band"] = "tel" if rng.random() < P_TEL else "8k"
        if rng.random() < P_NOISE:
            spec["noise"] = str(rng.choice(NOISE_TYPES, p=NOISE_P))
            spec["snr"] = round(float(rng.uniform(*SNR_RANGE)), 1)
    spec["peak_db"] = round(float(rng.uniform(*PEAK_DB_AUG)), 1)
    return spec


def describe(spec: Spec) -> str:
    """Short manifest string, e.g. ``speed0.95+rir0.45+pink12.0dB`` or ``clean``."""
    parts: list[str] = []
    if "speed" in spec:
        parts.append(f"speed{spec['speed']:.3f}")
    if spec.get("eq"):
        parts.append("eq")
    if "rt60" in spec:
        parts.append(f"rir{spec['rt60']:.2f}")
    if "band" in spec:
        parts.append(spec["band"])
    if "noise" in spec:
        parts.append(f"{spec['noise']}{spec['snr']:.1f}dB")
    return "+".join(parts) if parts else "clean"


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Speed perturbation (tempo and pitch) by resampling; output length ~ len(x)/factor."""
    import torch
    import torchaudio.functional as AF

    orig = int(round(SR * factor / 400.0)) * 400  # gcd >= 400 keeps the sinc kernel small
    if orig == SR:
        return x
    y = AF.resample(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), orig, SR)
    return y.numpy().astype(np.float32)


def resample_roundtrip_8k(x: np.ndarray) -> np.ndarray:
    """16 kHz -> 8 kHz -> 16 kHz (loses everything above 4 kHz); keeps length."""
    import torch
    import torchaudio.functional as AF

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    y = AF.resample(AF.resample(t, SR, 8000), 8000, SR).numpy().astype(np.float32)
    return _fit(y, len(x))


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def fft_len(n: int) -> int:
    """FFT size used for filtering ``n`` samples: next power of two (fast, and leaves room for the filter tail)."""
    return 1 << max(0, (n - 1)).bit_length()


def fft_filter(x: np.ndarray, gain_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Zero-phase filtering; ``gain_fn`` maps rfft bin frequencies (Hz) to linear gains."""
    nfft = fft_len(len(x) + 2048)
    spec = np.fft.rfft(x, nfft)
    gain = gain_fn(np.fft.rfftfreq(nfft, 1.0 / SR))
    return np.fft.irfft(spec * gain, n=nfft)[: len(x)].astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """Telephone band 300-3400 Hz with raised-cosine edges (100 Hz / 300 Hz wide)."""
    def gain(f: np.ndarray) -> np.ndarray:
        lo = np.clip((f - 200.0) / 200.0, 0.0, 1.0)
        hi = np.clip((3700.0 - f) / 600.0, 0.0, 1.0)
        return (0.5 - 0.5 * np.cos(np.pi * lo)) * (0.5 - 0.5 * np.cos(np.pi * hi))

    return fft_filter(x, gain)


def random_eq(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth random EQ: +-9 dB at 5 log-spaced control points plus a spectral tilt."""
    ctrl_f = np.log(np.geomspace(100.0, 7000.0, 5))
    ctrl_db = rng.uniform(-9.0, 9.0, size=5)
    tilt_db = rng.uniform(-4.0, 4.0)
    lo, hi = np.log(50.0), np.log(SR / 2.0)

    def gain(f: np.ndarray) -> np.ndarray:
        logf = np.log(np.maximum(f, 50.0))
        db = np.interp(logf, ctrl_f, ctrl_db) + tilt_db * ((logf - lo) / (hi - lo) - 0.5) * 2.0
        return 10.0 ** (db / 20.0)

    return fft_filter(x, gain)


def synthetic_rir(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Room impulse response: direct path plus exponentially decaying noise (60 dB decay in ``rt60`` s)."""
    n = int(SR * min(rt60 * 1.2, 1.2))
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    predelay = int(rng.integers(int(0.002 * SR), int(0.01 * SR)))
    tail[:predelay] = 0.0
    drr_db = rng.uniform(-4.0, 8.0)  # direct-to-reverberant energy ratio
    tail *= np.sqrt(1.0 / (np.sum(tail**2) * 10 ** (drr_db / 10.0)))
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with an RIR via FFT; output keeps the input length and RMS."""
    n = len(x) + len(rir) - 1
    nfft = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(rir, nfft), nfft)[: len(x)]
    return (y * _rms(x) / max(_rms(y), 1e-9)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """1/f noise by spectral shaping of white noise."""
    nfft = fft_len(n)
    f = np.fft.rfftfreq(nfft, 1.0 / SR)
    shape = 1.0 / np.sqrt(np.maximum(f, 20.0))
    return np.fft.irfft(np.fft.rfft(rng.standard_normal(nfft)) * shape, n=nfft)[:n].astype(np.float32)


def babble(rng: np.random.Generator, n: int, bank: list[np.ndarray]) -> np.ndarray:
    """Sum of 3-7 randomly cropped/looped utterances from the babble bank."""
    out = np.zeros(n, dtype=np.float32)
    for _ in range(int(rng.integers(3, 8))):
        src = bank[int(rng.integers(len(bank)))]
        reps = int(np.ceil((n + len(src)) / len(src)))
        looped = np.tile(src, reps)
        start = int(rng.integers(len(src)))
        seg = looped[start:start + n]
        out += seg / max(_rms(seg), 1e-6) * float(rng.uniform(0.5, 1.0))
    return out


def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix noise at the given SNR (relative to the speech RMS over the active part)."""
    active = x[np.abs(x) > 0.02 * np.max(np.abs(x))] if np.any(x) else x
    p_sig = _rms(active) ** 2
    p_noise = _rms(noise) ** 2
    scale = np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10.0)))
    return (x + noise * scale).astype(np.float32)


def set_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so that the absolute peak is ``peak_db`` dBFS."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0.0:
        return x.astype(np.float32)
    return (x * (10 ** (peak_db / 20.0) / peak)).astype(np.float32)


def apply(x: np.ndarray, spec: Spec, bank: list[np.ndarray] | None = None) -> np.ndarray:
    """Apply a spec to float audio; deterministic for a given spec."""
    rng = np.random.default_rng(spec["seed"])
    y = np.asarray(x, dtype=np.float32)
    if "speed" in spec:
        y = speed(y, spec["speed"])
    if spec.get("eq"):
        y = random_eq(y, rng)
    if "rt60" in spec:
        y = reverb(y, synthetic_rir(rng, spec["rt60"]))
    if spec.get("band") == "tel":
        y = telephone(y)
    elif spec.get("band") == "8k":
        y = resample_roundtrip_8k(y)
    if "noise" in spec:
        kind = spec["noise"]
        if kind == "babble" and bank:
            noise = babble(rng, len(y), bank)
        elif kind == "white" or (kind == "babble" and not bank):
            noise = rng.standard_normal(len(y)).astype(np.float32)
        else:
            noise = pink_noise(rng, len(y))
        if spec.get("band") == "tel":
            noise = telephone(noise)
        y = add_noise(y, noise, spec["snr"])
    y = set_peak(y, spec["peak_db"])
    if not np.all(np.isfinite(y)):
        raise FloatingPointError("augmentation produced non-finite samples")
    return y

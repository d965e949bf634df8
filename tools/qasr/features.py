"""Input features of the VGGTransformer (spec §1): Kaldi fbank + per-utterance CMVN.

This module is the single owner of feature computation in the Python toolkit: training,
evaluation, transcription and the C++ golden tests all go through :func:`compute_features`.

* waveform: 16 kHz mono on the **int16 scale** (a [-1, 1] float waveform times 32768);
* ``torchaudio.compliance.kaldi.fbank`` with 80 mel bins, 25 ms / 10 ms frames, everything
  else at the Kaldi defaults (povey window, pre-emphasis 0.97, snip_edges, 512-point FFT,
  power spectrum, log floored at float32 epsilon, no energy); dither 0 at inference;
* per-utterance mean / unbiased-std normalisation with fairseq's 1e-8 rule.
"""
from __future__ import annotations

from pathlib import Path
from typing import Tuple, Union

import torch

SAMPLE_RATE = 16000
NUM_MEL_BINS = 80
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
INT16_SCALE = 32768.0
VAR_FLOOR = 1e-8


def load_audio(path: Union[str, Path], target_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Loads an audio file as a mono float waveform in [-1, 1] at ``target_rate``.

    Multi-channel audio is averaged; other sample rates are resampled with torchaudio.
    Returns a 1-D tensor.
    """
    import torchaudio  # lazily: the training-only paths (e.g. qasr.train_gpu) need no audio I/O

    wav, rate = torchaudio.load(str(path))
    if wav.dim() == 2 and wav.size(0) > 1:
        wav = wav.mean(dim=0, keepdim=True)
    if rate != target_rate:
        wav = torchaudio.functional.resample(wav, rate, target_rate)
    return wav.reshape(-1).to(torch.float32)


def fbank(waveform: torch.Tensor, dither: float = 0.0) -> torch.Tensor:
    """Kaldi-compatible 80-bin log-mel filterbank of a [-1, 1] waveform, shape (T, 80).

    The waveform is rescaled to the int16 scale first (as fairseq's ``load_wav`` did).
    Returns an empty (0, 80) tensor when the waveform is shorter than one 25 ms frame.
    """
    import torchaudio.compliance.kaldi

    wav = waveform.reshape(1, -1).to(torch.float32) * INT16_SCALE
    if wav.size(1) < int(SAMPLE_RATE * FRAME_LENGTH_MS / 1000):
        return torch.zeros(0, NUM_MEL_BINS)
    return torchaudio.compliance.kaldi.fbank(
        wav,
        num_mel_bins=NUM_MEL_BINS,
        frame_length=FRAME_LENGTH_MS,
        frame_shift=FRAME_SHIFT_MS,
        dither=dither,
        energy_floor=0.0,
        sample_frequency=float(SAMPLE_RATE),
    )


def cmvn(feats: torch.Tensor) -> torch.Tensor:
    """Per-utterance mean / unbiased-std normalisation of (T, F) features (fairseq rule).

    If any dimension has variance < 1e-8, every dimension is divided by (std + 1e-8)
    instead of std; utterances with fewer than two frames are returned unchanged.
    """
    if feats.size(0) < 2:
        return feats
    mean = feats.mean(dim=0)
    var = feats.var(dim=0, unbiased=True)
    std = var.sqrt()
    if bool((var < VAR_FLOOR).any()):
        scale = 1.0 / (std + VAR_FLOOR)
    else:
        scale = 1.0 / std
    return (feats - mean) * scale


def compute_features(waveform: torch.Tensor, dither: float = 0.0) -> torch.Tensor:
    """Model input features (T, 80) of a 16 kHz [-1, 1] waveform: fbank then CMVN."""
    return cmvn(fbank(waveform, dither=dither))


def num_frames(num_samples: int) -> int:
    """Number of 10 ms frames produced for ``num_samples`` samples (snip_edges=True)."""
    win = int(SAMPLE_RATE * FRAME_LENGTH_MS / 1000)
    hop = int(SAMPLE_RATE * FRAME_SHIFT_MS / 1000)
    return 0 if num_samples < win else 1 + (num_samples - win) // hop


def file_features(path: Union[str, Path], dither: float = 0.0) -> Tuple[torch.Tensor, int]:
    """Features of an audio file (any rate, resampled to 16 kHz); returns (feats, num_samples)."""
    wav = load_audio(path)
    return compute_features(wav, dither=dither), int(wav.numel())

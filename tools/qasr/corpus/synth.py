"""Run the Debian TTS engines and convert their output to 16 kHz mono float audio.

* espeak-ng and flite: one process per utterance (they start in milliseconds).
* festival: one ``festival --batch`` process per group of utterances, driven
  by a generated Scheme script (festival's start-up costs ~0.5 s).
* Conversion to 16 kHz mono (and the tempo/pitch change of the HTS voice) is
  done by ``sox``, which writes raw 16-bit samples to a pipe.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SynthRequest:
    """One utterance to synthesise."""

    uid: str
    engine: str
    voice: str
    text: str  # TTS text: transcript with commas and terminal punctuation
    prosody: dict[str, float]


class SynthError(RuntimeError):
    """An engine failed or produced no audio."""


def _run(cmd: Sequence[str], timeout: float = 120.0) -> bytes:
    proc = subprocess.run(list(cmd), capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise SynthError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-400:]!r}")
    return proc.stdout


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM wav (first channel) as float32 in [-1, 1] and its sample rate."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise SynthError(f"{path}: {8 * w.getsampwidth()}-bit audio")
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm[::channels].astype(np.float32) / 32768.0, rate


def resample(audio: np.ndarray, rate: int, new_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling (torchaudio sinc interpolation)."""
    if rate == new_rate:
        return audio
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(audio)), rate, new_rate).numpy()


def to_16k(path: Path, effects: Sequence[str] = ()) -> np.ndarray:
    """Read an engine's wav, return float32 mono 16 kHz samples in [-1, 1].

    Without effects the wav is read and resampled in-process; with effects
    (tempo/pitch) sox does the conversion.
    """
    if effects:
        raw = _run(["sox", "-V1", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1",
                    "-r", str(SAMPLE_RATE), "-", *effects])
        audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    else:
        try:
            audio, rate = read_wav(path)
        except (OSError, EOFError, wave.Error) as e:
            raise SynthError(f"cannot read {path}: {e}") from e
        audio = resample(audio, rate)
    if audio.size < SAMPLE_RATE // 10 or not np.any(audio):
        raise SynthError(f"empty audio from {path}")
    return audio.astype(np.float32)


def _espeak(req: SynthRequest, tmp: Path) -> np.ndarray:
    p = req.prosody
    out = tmp / f"{req.uid}.raw.wav"
    ssml = f'<speak><prosody range="{int(p["range"])}">{req.text}</prosody></speak>'
    _run(["espeak-ng", "-m", "-v", req.voice, "-s", str(int(p["rate"])), "-p", str(int(p["pitch"])),
          "-g", str(int(p["gap"])), "-w", str(out), ssml])
    try:
        return to_16k(out)
    finally:
        out.unlink(missing_ok=True)


def _flite(req: SynthRequest, tmp: Path) -> np.ndarray:
    p = req.prosody
    out = tmp / f"{req.uid}.raw.wav"
    _run(["flite", "-voice", req.voice, "--setf", f"duration_stretch={p['stretch']}",
          "--setf", f"int_f0_target_mean={p['f0_mean']}", "--setf", f"int_f0_target_stddev={p['f0_std']}",
          "-t", req.text, "-o", str(out)])
    try:
        return to_16k(out)
    finally:
        out.unlink(missing_ok=True)


def festival_script(reqs: Sequence[SynthRequest], tmp: Path) -> str:
    """Scheme program synthesising every request into ``tmp/<uid>.raw.wav``."""
    lines: list[str] = []
    current = ""
    for r in sorted(reqs, key=lambda q: q.voice):
        p = r.prosody
        if r.voice != current:  # loading a voice is expensive (HTS: ~0.2 s)
            lines.append(f"(voice_{r.voice})")
            current = r.voice
        if "stretch" in p:
            lines.append(f"(Parameter.set 'Duration_Stretch {p['stretch']})")
            lines.append(f"(set! int_lr_params '((target_f0_mean {p['f0_mean']}) (target_f0_std {p['f0_std']})"
                         " (model_f0_mean 170) (model_f0_std 34)))")
        else:
            lines.append("(Parameter.set 'Duration_Stretch 1.0)")
        text = r.text.replace("\\", " ").replace('"', " ")
        out = tmp / f"{r.uid}.raw.wav"
        lines.append(f'(set! utt (Utterance Text "{text}"))')
        lines.append("(utt.synth utt)")
        lines.append(f'(utt.save.wave utt "{out}" \'riff)')
    return "\n".join(lines) + "\n"


def _festival_effects(req: SynthRequest) -> list[str]:
    p = req.prosody
    if "tempo" in p:
        return ["tempo", "-s", str(p["tempo"]), "pitch", str(int(p["cents"]))]
    return []


def synth_festival(reqs: Sequence[SynthRequest], tmp: Path) -> dict[str, np.ndarray | SynthError]:
    """Synthesise a group of festival utterances in one process.

    If the batch fails part-way, the missing utterances are retried one by one.
    """
    results: dict[str, np.ndarray | SynthError] = {}
    script = tmp / f"{reqs[0].uid}.scm"
    script.write_text(festival_script(reqs, tmp))
    try:
        _run(["festival", "--batch", str(script)], timeout=60.0 + 10.0 * len(reqs))
    except (SynthError, subprocess.TimeoutExpired):
        pass
    for r in reqs:
        out = tmp / f"{r.uid}.raw.wav"
        if not out.exists() and len(reqs) > 1:
            results.update(synth_festival([r], tmp))
            continue
        try:
            results[r.uid] = to_16k(out, _festival_effects(r))
        except SynthError as e:
            results[r.uid] = e
        finally:
            out.unlink(missing_ok=True)
    script.unlink(missing_ok=True)
    return results


def synthesize(reqs: Sequence[SynthRequest], tmp: Path) -> dict[str, np.ndarray | SynthError]:
    """Synthesise a group of requests; returns audio or the error per uid."""
    tmp.mkdir(parents=True, exist_ok=True)
    results: dict[str, np.ndarray | SynthError] = {}
    fest = [r for r in reqs if r.engine == "festival"]
    if fest:
        results.update(synth_festival(fest, tmp))
    for r in reqs:
        if r.engine == "festival":
            continue
        try:
            results[r.uid] = _espeak(r, tmp) if r.engine == "espeak-ng" else _flite(r, tmp)
        except (SynthError, subprocess.TimeoutExpired) as e:
            results[r.uid] = SynthError(str(e))
    return results


def write_wav(path: Path, audio: np.ndarray) -> None:
    """Write float audio as 16 kHz mono 16-bit PCM, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2")
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    tmp.replace(path)


def wav_duration(path: Path) -> float:
    """Duration in seconds from a wav header."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())

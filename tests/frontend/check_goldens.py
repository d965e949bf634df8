#!/usr/bin/python3
"""Golden test of the C++ frontend against torchaudio.compliance.kaldi.fbank.

Writes test audio (tones, sweeps, noise, silence, short and odd-length clips,
espeak-ng speech; 8/16/22.05/44.1/48 kHz; mono/stereo; 8/16/24-bit PCM, float32/64,
WAVE_FORMAT_EXTENSIBLE, FLAC; raw PCM through stdin) into --workdir, runs
`asr-cli features --no-cmvn --dump-waveform` on each file, and checks:

* 16 kHz inputs: the decoded waveform equals the samples written (int16 scale);
* every input: the C++ log-mel equals torchaudio's fbank of the same 16 kHz
  waveform (the one the C++ resampler produced) to within --tolerance: in every
  bin against torchaudio run in float64, and against torchaudio's default
  float32 in every bin where float32 rounding leaves that result within
  tolerance/4 of its float64 value (bins ~100 dB or more below a frame's peak
  are float32 noise: there torchaudio float32 and float64 differ by up to ~3.5);
* CMVN: the C++ normalised output equals fairseq's rule applied to the C++ log-mel.

Exit 0 on success, 1 on a mismatch, 77 (ctest SKIP) without torch/torchaudio.
"""
import argparse
import json
import math
import struct
import subprocess
import sys
from pathlib import Path

try:
    import numpy as np
    import torch
    import torchaudio
except ImportError as err:  # CI has torch; a bare machine skips.
    print(f"SKIP: {err}")
    sys.exit(77)

torch.set_num_threads(1)
RNG = np.random.default_rng(1234)


def write_wav(path, ints_or_floats, rate, fmt, extensible=False):
    """Writes a (frames, channels) array as a WAV. fmt: u8, s16, s24, s32, f32, f64."""
    data = np.asarray(ints_or_floats)
    if data.ndim == 1:
        data = data[:, None]
    frames, channels = data.shape
    bits = {"u8": 8, "s16": 16, "s24": 24, "s32": 32, "f32": 32, "f64": 64}[fmt]
    is_float = fmt.startswith("f")
    if fmt == "u8":
        payload = data.astype(np.uint8).tobytes()
    elif fmt == "s16":
        payload = data.astype("<i2").tobytes()
    elif fmt == "s24":
        v = data.astype("<i4").reshape(-1)
        b = v.view(np.uint8).reshape(-1, 4)[:, :3]
        payload = b.tobytes()
    elif fmt == "s32":
        payload = data.astype("<i4").tobytes()
    else:
        payload = data.astype("<f4" if fmt == "f32" else "<f8").tobytes()
    block = channels * bits // 8
    tag = 3 if is_float else 1
    if extensible:
        guid = struct.pack("<H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt_chunk = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits,
                                22, bits, (1 << channels) - 1) + guid
    else:
        fmt_chunk = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if len(payload) % 2:
        payload += b"\x00"
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", frames * block) + payload
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def tone(n, rate, freq, amp=0.5):
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


def sweep(n, rate, f0, f1, amp=0.5):
    t = np.arange(n) / rate
    dur = n / rate
    return amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * dur)))


def pink(n, amp=0.3):
    spec = np.fft.rfft(RNG.standard_normal(n))
    spec[1:] /= np.sqrt(np.arange(1, len(spec)))
    x = np.fft.irfft(spec, n)
    return amp * x / np.max(np.abs(x))


def to_s16(x):
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int64)


def espeak(path, text, rate=None):
    subprocess.run(["espeak-ng", "-w", str(path), "-s", "160", text], check=True)
    if rate:
        tmp = path.with_suffix(".tmp.wav")
        subprocess.run(["sox", str(path), "-r", str(rate), str(tmp)], check=True)
        tmp.replace(path)


def make_cases(work):
    """Returns [(name, path, expected 16k waveform or None, extra cli args, stdin bytes)]."""
    cases = []
    sr = 16000

    def add_s16(name, x, rate=sr):
        ints = to_s16(x)
        path = work / f"{name}.wav"
        write_wav(path, ints, rate, "s16")
        expected = ints.astype(np.float32) if rate == sr and ints.ndim == 1 else None
        cases.append((name, path, expected, [], None))

    add_s16("tone_440", tone(sr, sr, 440.0))
    add_s16("tone_3k_quiet", tone(sr, sr, 3000.0, 0.01))
    add_s16("sweep_100_7900", sweep(2 * sr, sr, 100.0, 7900.0))
    add_s16("white_noise", 0.3 * RNG.uniform(-1, 1, sr))
    add_s16("pink_noise", pink(sr))
    add_s16("silence", np.zeros(sr))
    add_s16("lsb_noise", RNG.integers(-1, 2, sr) / 32767.0)
    add_s16("short_300", 0.3 * RNG.uniform(-1, 1, 300))
    add_s16("one_frame_400", 0.3 * RNG.uniform(-1, 1, 400))
    add_s16("two_frames_560", 0.3 * RNG.uniform(-1, 1, 560))
    add_s16("odd_16123", sweep(16123, sr, 50.0, 6000.0, 0.4) + 0.01 * RNG.standard_normal(16123))
    add_s16("empty_data", np.zeros(0))

    # Sample formats at 16 kHz; expected waveform = decoded float * 32768.
    x = sweep(sr, sr, 200.0, 7000.0, 0.7) + 0.05 * RNG.standard_normal(sr)
    i24 = np.clip(np.round(x * 8388607), -8388608, 8388607).astype(np.int64)
    write_wav(work / "pcm24.wav", i24, sr, "s24")
    cases.append(("pcm24", work / "pcm24.wav", (i24 / 256.0).astype(np.float32), [], None))
    i32 = (i24 * 256).astype(np.int64)
    write_wav(work / "pcm32.wav", i32, sr, "s32")
    cases.append(("pcm32", work / "pcm32.wav", (i32 / 65536.0).astype(np.float32), [], None))
    u8 = np.clip(np.round(x * 127) + 128, 0, 255).astype(np.int64)
    write_wav(work / "pcm_u8.wav", u8, sr, "u8")
    cases.append(("pcm_u8", work / "pcm_u8.wav", ((u8 - 128) * 256.0).astype(np.float32), [], None))
    f32 = x.astype(np.float32)
    write_wav(work / "float32.wav", f32, sr, "f32")
    cases.append(("float32", work / "float32.wav", f32 * np.float32(32768), [], None))
    write_wav(work / "float64.wav", x, sr, "f64")
    cases.append(("float64", work / "float64.wav", (x.astype(np.float32) * np.float32(32768)), [], None))
    stereo = np.stack([to_s16(x), to_s16(pink(sr))], axis=1)
    write_wav(work / "stereo.wav", stereo, sr, "s16")
    mono = ((stereo[:, 0] + stereo[:, 1]).astype(np.float32) * np.float32(0.5))
    cases.append(("stereo", work / "stereo.wav", mono, [], None))
    write_wav(work / "extensible_stereo.wav", stereo, sr, "s16", extensible=True)
    cases.append(("extensible_stereo", work / "extensible_stereo.wav", mono, [], None))
    six = np.stack([to_s16(0.1 * k * x) for k in range(1, 7)], axis=1)
    write_wav(work / "six_channels.wav", six, sr, "s16", extensible=True)
    cases.append(("six_channels", work / "six_channels.wav",
                  (six.sum(axis=1) / 6.0).astype(np.float32), [], None))

    # Headerless PCM through stdin.
    ints = to_s16(x)
    raw = ints.astype("<i2").tobytes()
    cases.append(("raw_stdin_s16", "-", ints.astype(np.float32), ["--raw", "16000:s16le:1"], raw))
    wav_bytes = (work / "stereo.wav").read_bytes()
    cases.append(("wav_stdin", "-", mono, [], wav_bytes))

    # Speech (espeak-ng) at its native 22.05 kHz and at other rates; FLAC.
    text = "The quick brown fox jumps over the lazy dog. Speech recognition on CPUs."
    espeak(work / "speech_22k.wav", text)
    cases.append(("speech_22050", work / "speech_22k.wav", None, [], None))
    espeak(work / "speech_16k.wav", text, 16000)
    cases.append(("speech_16000", work / "speech_16k.wav", None, [], None))
    subprocess.run(["sox", str(work / "speech_16k.wav"), str(work / "speech_16k.flac")], check=True)
    cases.append(("speech_16000_flac", work / "speech_16k.flac", None, [], None))
    for rate in (8000, 44100, 48000):
        espeak(work / f"speech_{rate}.wav", text, rate)
        cases.append((f"speech_{rate}", work / f"speech_{rate}.wav", None, [], None))
        add_s16(f"sweep_{rate}", sweep(rate, rate, 100.0, rate / 2 - 200, 0.5), rate)
        add_s16(f"noise_{rate}", 0.3 * RNG.uniform(-1, 1, rate), rate)
    return cases


def load_npy(path):
    return np.load(path).astype(np.float32)


def torch_fbank(wave, dtype=torch.float32):
    if wave.shape[0] < 400:
        return np.zeros((0, 80), np.float64)
    return torchaudio.compliance.kaldi.fbank(
        torch.from_numpy(wave).to(dtype).reshape(1, -1), num_mel_bins=80, frame_length=25.0,
        frame_shift=10.0, dither=0.0, energy_floor=0.0, sample_frequency=16000.0).double().numpy()


def fairseq_cmvn(feats):
    f = torch.from_numpy(feats)
    if f.shape[0] < 2:
        return feats, None, None
    mean = f.mean(dim=0)
    var = f.var(dim=0, unbiased=True)
    std = var.sqrt()
    scale = 1.0 / (std + 1e-8) if bool((var < 1e-8).any()) else 1.0 / std
    return ((f - mean) * scale).numpy(), mean.numpy(), scale.numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--asr-cli", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tolerance", type=float, default=1e-3)
    ap.add_argument("--summary", help="write a JSON summary here")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    failures = []
    worst = 0.0
    worst64 = 0.0
    summary = {}
    for name, path, expected, extra, stdin in make_cases(work):
        feats_path, wave_path = work / f"{name}.feat.npy", work / f"{name}.wave.npy"
        cmvn_path = work / f"{name}.cmvn.npy"
        base = [args.asr_cli, "features", str(path)] + extra
        for cmd in (base + ["--no-cmvn", "-o", str(feats_path), "--dump-waveform", str(wave_path)],
                    base + ["-o", str(cmvn_path)]):
            run = subprocess.run(cmd, input=stdin, capture_output=True)
            if run.returncode != 0:
                failures.append(f"{name}: asr-cli failed: {run.stderr.decode(errors='replace')}")
                break
        else:
            wave, feats, cmvn = load_npy(wave_path), load_npy(feats_path), load_npy(cmvn_path)
            msg = []
            if expected is not None:
                if wave.shape != expected.shape:
                    failures.append(f"{name}: waveform shape {wave.shape} != {expected.shape}")
                    continue
                wave_err = float(np.max(np.abs(wave - expected))) if wave.size else 0.0
                msg.append(f"wave {wave_err:.2e}")
                if wave_err > 1e-2:
                    failures.append(f"{name}: decoded waveform differs by {wave_err}")
            ref = torch_fbank(wave)
            if ref.shape != feats.shape:
                failures.append(f"{name}: features shape {feats.shape} != torchaudio {ref.shape}")
                continue
            # Bins ~100 dB or more below a frame's peak are float32 rounding noise:
            # there torchaudio itself differs from its own float64 result by more
            # than the tolerance. Compare with torchaudio where its float32 result
            # is determined (|t32 - t64| <= tol/4); elsewhere require the C++ error
            # (vs float64) to be no worse than 2x torchaudio's own float32 error.
            ref64 = torch_fbank(wave.astype(np.float64), torch.float64)
            own = np.abs(ref - ref64)
            sound = own <= args.tolerance / 4
            diff = np.abs(ref - feats)
            err = float(np.max(diff[sound])) if sound.any() else 0.0
            err_all = float(np.max(diff)) if feats.size else 0.0
            c_err64 = float(np.max(np.abs(feats - ref64))) if feats.size else 0.0
            t_err64 = float(np.max(own)) if feats.size else 0.0
            worst = max(worst, err)
            msg.append(f"fbank {err:.2e} (all bins {err_all:.2e}, {np.mean(~sound) if sound.size else 0:.1%} float32 noise;"
                       f" vs f64: C++ {c_err64:.2e} torchaudio {t_err64:.2e})")
            if err > args.tolerance:
                failures.append(f"{name}: log-mel max abs diff {err:.3e} > {args.tolerance}")
            worst64 = max(worst64, c_err64)
            if c_err64 > args.tolerance:
                failures.append(f"{name}: log-mel differs from torchaudio float64 by "
                                f"{c_err64:.3e} > {args.tolerance}")
            ref_cmvn, mean, scale = fairseq_cmvn(feats)
            if scale is None:
                cmvn_err = float(np.max(np.abs(cmvn - feats))) if feats.size else 0.0
            else:  # compare at the log-mel scale: (a - b) / scale
                cmvn_err = float(np.max(np.abs(cmvn - ref_cmvn) / scale))
            msg.append(f"cmvn {cmvn_err:.2e}")
            if cmvn_err > args.tolerance:
                failures.append(f"{name}: CMVN differs by {cmvn_err:.3e} (log-mel units)")
            summary[name] = {"frames": int(feats.shape[0]), "vs_float64": c_err64,
                             "vs_float32_determined": err, "vs_float32_all": err_all,
                             "cmvn_diff": cmvn_err}
            print(f"{name:22s} frames {feats.shape[0]:4d}  " + "  ".join(msg))
    print(f"worst log-mel max abs diff vs torchaudio float64, all bins: {worst64:.3e}; "
          f"vs torchaudio float32 where its rounding is below tolerance/4: {worst:.3e} "
          f"(tolerance {args.tolerance})")
    if args.summary:
        Path(args.summary).write_text(json.dumps(
            {"worst_vs_float64": worst64, "worst_vs_float32": worst, "cases": summary}, indent=1))
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

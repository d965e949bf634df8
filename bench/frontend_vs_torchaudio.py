#!/usr/bin/python3
"""Frontend speed: qasr (bench_frontend) vs torchaudio on the same audio, 1 thread.

Makes ~20 s of espeak-ng speech at 16 kHz and at 44.1 kHz (16-bit WAV), times
torchaudio doing the same job as the C++ pipeline (load the file, resample to
16 kHz, kaldi.fbank with 80 bins, fairseq CMVN) with torch.set_num_threads(1),
runs bench_frontend on the same files, and prints both throughputs in seconds
of audio per CPU second (x realtime) and the ratio. Both sides are timed in CPU
time (best of several calls for torchaudio, the mean of Google Benchmark's
iterations for qasr), so a busy machine skews neither. PyTorch's BLAS and
OpenMP pools are pinned to one thread (OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1):
with torch.set_num_threads(1) alone OpenBLAS still spins a second thread, which
doubles torchaudio's CPU time. On a shared VM one process can run up to 2x
slower than the next, so each side runs in --rounds alternating processes and
the best round of each side is compared.

usage: /usr/bin/python3 bench/frontend_vs_torchaudio.py --bench build/bench/bench_frontend
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch loads its BLAS
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torchaudio  # noqa: E402

TEXT = ("Speech recognition turns audio into text. This benchmark reads a few sentences "
        "aloud with a synthetic voice, then measures how fast each frontend turns the "
        "waveform into log mel filterbank features. ")


def make_audio(work: Path):
    one = work / "one.wav"
    subprocess.run(["espeak-ng", "-w", str(one), "-s", "160", TEXT], check=True)
    files = {}
    for rate in (16000, 44100):
        out = work / f"speech_{rate}.wav"
        # Repeat to ~20 s so per-call overheads do not dominate.
        subprocess.run(["sox", str(one), "-r", str(rate), "-b", "16", str(out), "repeat", "1"],
                       check=True)
        files[rate] = out
    return files


def torchaudio_pipeline(path):
    wav, rate = torchaudio.load(str(path))
    if wav.size(0) > 1:
        wav = wav.mean(dim=0, keepdim=True)
    if rate != 16000:
        wav = torchaudio.functional.resample(wav, rate, 16000)
    feats = torchaudio.compliance.kaldi.fbank(wav * 32768.0, num_mel_bins=80, frame_length=25.0,
                                              frame_shift=10.0, dither=0.0, energy_floor=0.0)
    mean = feats.mean(dim=0)
    var = feats.var(dim=0, unbiased=True)
    std = var.sqrt()
    scale = 1.0 / (std + 1e-8) if bool((var < 1e-8).any()) else 1.0 / std
    return (feats - mean) * scale


def torchaudio_fbank_only(wave16k):
    return torchaudio.compliance.kaldi.fbank(wave16k, num_mel_bins=80, frame_length=25.0,
                                             frame_shift=10.0, dither=0.0, energy_floor=0.0)


def best_time(fn, min_total=2.0, min_reps=3):
    """Best CPU time of one call (process time: fair on a busy machine, and
    what Google Benchmark's counters use for the C++ side)."""
    times = []
    start = time.process_time()
    while len(times) < min_reps or time.process_time() - start < min_total:
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def torch_round(files):
    """One round of torchaudio timings (x realtime per pipeline key)."""
    info = torchaudio.info(str(files[16000]))
    audio_s = info.num_frames / info.sample_rate
    rt = {str(rate): audio_s / best_time(lambda p=p: torchaudio_pipeline(p))
          for rate, p in files.items()}
    wave16k = torchaudio.load(str(files[16000]))[0] * 32768.0
    rt["fbank"] = audio_s / best_time(lambda: torchaudio_fbank_only(wave16k))
    return rt


def qasr_round(bench, files):
    env = dict(os.environ, QASR_BENCH_AUDIO_16K=str(files[16000]),
               QASR_BENCH_AUDIO_44K=str(files[44100]))
    run = subprocess.run([bench, "--benchmark_format=json", "--benchmark_min_time=1"], env=env,
                         check=True, capture_output=True, text=True)
    b = {x["name"]: x for x in json.loads(run.stdout)["benchmarks"]}
    return {"16000": b["BM_FrontendEndToEnd/wav16k"]["x_realtime"],
            "44100": b["BM_FrontendEndToEnd/wav44k"]["x_realtime"],
            "fbank": b["BM_FbankOnly"]["x_realtime"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", help="path to bench_frontend")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternating processes per side; the best of each side is compared")
    ap.add_argument("--torch-worker", nargs=2, metavar=("WAV16K", "WAV44K"),
                    help=argparse.SUPPRESS)  # internal: one torchaudio round, JSON to stdout
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.torch_worker:
        files = {16000: Path(args.torch_worker[0]), 44100: Path(args.torch_worker[1])}
        print(json.dumps(torch_round(files)))
        return 0
    if not args.bench:
        ap.error("--bench is required")
    keys = ["16000", "44100", "fbank"]
    with tempfile.TemporaryDirectory() as tmp:
        files = make_audio(Path(tmp))
        info = torchaudio.info(str(files[16000]))
        audio_s = info.num_frames / info.sample_rate
        torch_rounds, qasr_rounds = [], []
        for _ in range(max(1, args.rounds)):
            worker = subprocess.run([sys.executable, __file__, "--torch-worker",
                                     str(files[16000]), str(files[44100])],
                                    check=True, capture_output=True, text=True)
            torch_rounds.append(json.loads(worker.stdout))
            qasr_rounds.append(qasr_round(args.bench, files))
    torch_rt = {k: max(r[k] for r in torch_rounds) for k in keys}
    qasr_rt = {k: max(r[k] for r in qasr_rounds) for k in keys}
    rows = [("decode+fbank+cmvn, 16 kHz WAV", "16000"),
            ("decode+resample+fbank+cmvn, 44.1 kHz WAV", "44100"),
            ("fbank only, 16 kHz waveform in memory", "fbank")]
    print(f"audio: {audio_s:.1f} s of espeak-ng speech; 1 thread; best of {len(torch_rounds)} "
          f"rounds per side; torch {torch.__version__}, torchaudio {torchaudio.__version__}")
    print(f"{'pipeline':44s} {'qasr x RT':>10s} {'torchaudio x RT':>16s} {'ratio':>7s}"
          f"  (per-round ratios)")
    results = []
    for label, key in rows:
        ratio = qasr_rt[key] / torch_rt[key]
        per_round = [q[key] / t[key] for q, t in zip(qasr_rounds, torch_rounds)]
        results.append({"pipeline": label, "qasr_x_realtime": qasr_rt[key],
                        "torchaudio_x_realtime": torch_rt[key], "ratio": ratio,
                        "per_round_ratios": per_round})
        print(f"{label:44s} {qasr_rt[key]:10.0f} {torch_rt[key]:16.0f} {ratio:6.1f}x  "
              + " ".join(f"{r:.1f}" for r in per_round))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

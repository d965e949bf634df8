#!/usr/bin/python3
"""Graph executor speed vs PyTorch on the same model, same run: ratios only.

Builds the ``small`` VGGTransformer (random weights, vocabulary 500), exports it FP32 and
quantized (w8, w4g64; min/max PTQ), times PyTorch (fp32, eval, no_grad) on the encoder
(1000 frames = 10 s) and on one incremental decoder step (average over steps 0..31 of a
fresh search, 1/4/10 beams), runs ``bench_engine`` on each export, and prints
``speedup = torch time / qasr time`` per case. Both sides use the same thread count and
the same clock: CPU time by default with 1 thread (the machine is shared), wall time otherwise.

usage: /usr/bin/python3 bench/engine_vs_torch.py --bench build/bench/bench_engine [--threads 1]
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import torch  # noqa: E402

from qasr.export.container import DEFAULT_FEATURE_CONFIG, write_model  # noqa: E402
from qasr.export.fp32 import folded_state_dict  # noqa: E402
from qasr.export.quantized import export_quantized_model  # noqa: E402
from qasr.export.testdata import FAKE_SPM  # noqa: E402
from qasr.model import build_model  # noqa: E402
from qasr.quant.api import quantize_model  # noqa: E402

STEPS = 32
FRAMES = 1000
BEAMS = (1, 4, 10)


CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


@torch.no_grad()
def torch_times(model, vocab):
    feats = torch.randn(1, FRAMES, 80)
    lengths = torch.tensor([FRAMES])
    out = {"encode": best_of(lambda: model.encoder(feats, lengths), 5)}
    enc, mask = model.encoder(feats[:, :400], torch.tensor([400]))
    dec = model.decoder
    for beams in BEAMS:
        def search():
            state = dec.init_state(enc, mask)
            tokens = torch.tensor([2])
            for step in range(STEPS):
                if step == 1:
                    state = dec.reorder_state(state, torch.zeros(beams, dtype=torch.long))
                n = 1 if step == 0 else beams
                tokens = torch.tensor([4 + (i * 7 + step) % (vocab - 4) for i in range(n)])
                torch.log_softmax(dec.step(tokens, state), dim=-1)
        # init_state (cross K/V) is outside the engine's timed step; subtract it.
        init = best_of(lambda: dec.init_state(enc, mask), 5)
        out[f"step/beams:{beams}"] = (best_of(search, 5) - init) / STEPS
    return out


def engine_times(bench, model_path, threads, field):
    env = dict(os.environ, QASR_BENCH_MODEL=str(model_path))
    res = subprocess.run([bench, f"--benchmark_filter=^engine/(encode/frames:{FRAMES}|step/.*)/threads:{threads}$", "--benchmark_format=json",
                          "--benchmark_min_time=0.3"], env=env, check=True, capture_output=True, text=True)
    out = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9}[b["time_unit"]]
        name = b["name"].split("/")
        key = "encode" if name[1] == "encode" else f"step/{name[2]}"
        out[key] = b[field] * scale
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default=None,
                    help="cpu (default with 1 thread: a busy machine skews neither side) or wall")
    a = ap.parse_args()
    global clock
    mode = a.clock or ("cpu" if a.threads == 1 else "wall")
    clock = CLOCK[mode]
    field = "cpu_time" if mode == "cpu" else "real_time"
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vocab = 500
    model = build_model("small", vocab_size=vocab).eval()
    base = torch_times(model, vocab)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"fp32": Path(tmp) / "fp32.qasr"}
        write_model(paths["fp32"], model.cfg, folded_state_dict(model), FAKE_SPM, {}, DEFAULT_FEATURE_CONFIG)
        for recipe in ("w8", "w4g64"):
            q = quantize_model(copy.deepcopy(model), recipe, init="minmax").eval()
            paths[recipe] = Path(tmp) / f"{recipe}.qasr"
            export_quantized_model(q, FAKE_SPM, paths[recipe], recipe)
        for name, path in paths.items():
            eng = engine_times(a.bench, path, a.threads, field)
            for key, t in base.items():
                rows.append((name, key, t / eng[key]))
    print(f"# qasr engine vs PyTorch {torch.__version__} (fp32), model 'small' (random), "
          f"threads {a.threads}, {mode} time; speedup = torch time / qasr time")
    print(f"{'qasr weights':<14}{'case':<18}{'speedup':>8}")
    for name, key, r in rows:
        print(f"{name:<14}{key:<18}{r:>8.2f}")


if __name__ == "__main__":
    main()

"""The quantization results table: export every row's model, decode held-out sets with the
C++ engine, and report corpus WER, relative WER, size and a paired bootstrap interval.

Rows are ``.qasr`` files. ``export`` makes them from one FP32 teacher (PTQ rows) and QAT
results (``qasr.train_gpu qat`` npz files); ``table`` decodes every row with the *same*
``asr-cli transcribe`` settings (beam search, no voice-activity splitting), so the figures
are what a user of the engine gets, integer kernels included.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant.results export --teacher runs/B.pt \\
        --spm pack/spm500.model --out runs/quant/rows --ptq rtn:w2g128_mix mse:w2g128_mix \\
        --qat w2=runs/Q2/qat.npz
    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant.results table --asr-cli build/tools/asr-cli/asr-cli \\
        --rows runs/quant/rows/*.qasr --baseline fp32 --sets test_seen_voice test_unseen_voice \\
        --out runs/quant/table
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..wer import edit_distance


# ----------------------------------------------------------------------------- export


def export_row(model: Any, spm: Path, out: Path, row: str, recipe: Any, extra: Dict[str, Any]) -> Dict[str, Any]:
    from ..export.quantized import export_quantized_model
    from .api import report

    rep = report(model)
    meta = {"results_row": row, "bits_per_weight": rep["bits_per_weight"], "weight_bytes": rep["total_bytes"], **extra}
    export_quantized_model(model, spm.read_bytes(), out, recipe, meta)
    return meta


def export_rows(teacher: Path, spm: Path, out_dir: Path, ptq_rows: Sequence[str], qat_rows: Sequence[str],
                calibrate: Optional[Callable[[Any], None]] = None) -> List[Path]:
    """Writes ``fp32.qasr``, ``ptq-<method>-<recipe>.qasr`` and ``qat-<name>.qasr`` into ``out_dir``.

    ``gptq`` rows need ``calibrate(model)`` (:func:`.io.calibration_runner`)."""
    import copy
    import tempfile

    from ..export.fp32 import export_fp32
    from ..train_gpu import npz_meta, qat_from_npz
    from .api import load_recipe, quantize_model
    from .io import load_float, recipe_to_json
    from .ptq import ptq

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fp = out_dir / "fp32.qasr"
    base = load_float(teacher)  # a checkpoint or an FP32 .qasr file
    n = sum(p.numel() for p in base.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = teacher
        if teacher.suffix == ".qasr":
            from ..train import export_weights

            ckpt = Path(tmp) / "teacher.pt"
            export_weights(base, ckpt, spm.name, {"source": teacher.name})
        export_fp32(ckpt, spm, fp, {"results_row": "fp32", "bits_per_weight": 32.0, "weight_bytes": 4 * n})
    paths.append(fp)
    for spec in ptq_rows:
        method, _, recipe = spec.partition(":")
        if method not in ("rtn", "mse", "gptq", "gptq-ao") or not recipe:
            raise ValueError(f"a PTQ row is METHOD:RECIPE with METHOD rtn, mse, gptq or gptq-ao, got {spec!r}")
        if method.startswith("gptq") and calibrate is None:
            raise ValueError("gptq rows need calibration data (--calib-manifest)")
        model = quantize_model(copy.deepcopy(base), recipe, init="none")
        ptq(model, method, calibrate)
        p = out_dir / f"ptq-{method}-{Path(recipe).stem}.qasr"
        export_row(model, spm, p, p.stem, {"layers": recipe_to_json(load_recipe(recipe))}, {"method": f"PTQ {method}", "recipe": Path(recipe).stem})
        paths.append(p)
    for spec in qat_rows:
        name, _, npz = spec.partition("=")
        if not name or not npz:
            raise ValueError(f"a QAT row is NAME=FILE.npz, got {spec!r}")
        model = qat_from_npz(Path(npz))
        meta = npz_meta(Path(npz))
        p = out_dir / f"qat-{name}.qasr"
        recipe = meta.get("recipe")
        rname = meta.get("args", {}).get("recipe", name)
        export_row(model, spm, p, p.stem, recipe, {"method": "QAT", "recipe": rname, "qat_args": meta.get("args", {})})
        paths.append(p)
    return paths


# ----------------------------------------------------------------------------- decoding


@dataclass
class SetResult:
    """Per-utterance word errors and reference lengths of one model on one set."""

    errors: List[int] = field(default_factory=list)
    words: List[int] = field(default_factory=list)

    @property
    def wer(self) -> float:
        return 100.0 * sum(self.errors) / max(1, sum(self.words))


def read_manifest(path: Path, limit: int = 0) -> List[Dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        utts = [json.loads(line) for line in f if line.strip()]
    return utts[:limit] if limit else utts


def transcribe(asr_cli: Path, model: Path, wavs: Sequence[Path], beam: int, threads: int) -> List[str]:
    """Hypotheses of ``asr-cli transcribe`` for ``wavs`` (one segment each, txt output)."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [str(asr_cli), "transcribe", "-m", str(model), "-b", str(beam), "-t", str(threads), "--no-vad", "-q", "-f", "txt", "-o", d]
        for i in range(0, len(wavs), 500):
            subprocess.run(cmd + [str(w) for w in wavs[i : i + 500]], check=True)
        return [(Path(d) / f"{w.stem}.txt").read_text(encoding="utf-8").strip() for w in wavs]


def score(refs: Sequence[str], hyps: Sequence[str]) -> SetResult:
    r = SetResult()
    for ref, hyp in zip(refs, hyps):
        rw = ref.split()
        r.errors.append(edit_distance(rw, hyp.split()))
        r.words.append(len(rw))
    return r


def paired_bootstrap(q: SetResult, base: SetResult, n: int = 1000, seed: int = 0) -> Tuple[float, float]:
    """95 % interval of the relative WER change (q − base)/base over utterance resamples."""
    rng = random.Random(seed)
    m = len(base.words)
    rel = []
    for _ in range(n):
        idx = [rng.randrange(m) for _ in range(m)]
        eb = sum(base.errors[i] for i in idx)
        eq = sum(q.errors[i] for i in idx)
        rel.append(100.0 * (eq - eb) / max(1, eb))
    rel.sort()
    return rel[int(0.025 * n)], rel[int(0.975 * n) - 1]


# ----------------------------------------------------------------------------- table


def row_info(path: Path) -> Dict[str, Any]:
    from ..export.reader import read_model

    model = read_model(path, verify_checksum=False)
    md = model.metadata
    layers = md.get("quantization", {}).get("layers", {})
    above = sorted({n for n, l in layers.items() if l.get("bits", 32) > 2}) if layers else []
    bits = md.get("bits_per_weight", 32.0 if not layers else None)
    return {
        "row": md.get("results_row", path.stem),
        "method": md.get("method", "FP32" if not layers else "?"),
        "recipe": md.get("recipe", "-"),
        "bits_per_weight": bits,
        "weight_bytes": md.get("weight_bytes"),
        "file_bytes": path.stat().st_size,
        "checksum": model.checksum,  # keys the hypothesis cache: a re-exported row is decoded again
        "above_2_bits": above,
    }


def summarise_above(names: Sequence[str]) -> str:
    """Short description of which layers stay above 2 bits."""
    if not names:
        return "-"
    groups: Dict[str, int] = {}
    for n in names:
        key = n.split(".")[0] + "." + n.split(".")[1] if "." in n else n
        groups[key] = groups.get(key, 0) + 1
    return ", ".join(f"{k} ({v})" for k, v in sorted(groups.items()))


def build_table(asr_cli: Path, rows: Sequence[Path], baseline: str, sets: Sequence[str], manifests: Path, corpus: Path,
                beam: int, threads: int, limit: int, out: Path) -> Dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Any] = {"beam": beam, "sets": list(sets), "rows": []}
    per: Dict[str, Dict[str, SetResult]] = {}
    cache = out / "hyps"
    cache.mkdir(exist_ok=True)
    infos = [row_info(p) for p in rows]
    if not Path(asr_cli).is_file():
        raise SystemExit(f"asr-cli not found at {asr_cli} (build it: cmake --build build --target asr-cli)")
    engine = hashlib.sha256(Path(asr_cli).read_bytes()).hexdigest()
    if baseline not in {i["row"] for i in infos}:
        raise SystemExit(f"baseline row {baseline!r} not among the rows ({', '.join(i['row'] for i in infos)})")
    for path, info in zip(rows, infos):
        per[info["row"]] = {}
        for s in sets:
            utts = read_manifest(manifests / f"{s}.jsonl", limit)
            # The cache is valid for this very model, decoder binary, beam and utterance list only
            # (a rebuilt engine may round differently: every row of a table is decoded by one build).
            key = {"checksum": info["checksum"], "asr_cli": engine, "beam": beam, "utts": [u["id"] for u in utts]}
            hyp_file = cache / f"{info['row']}.{s}.json"
            cached = json.loads(hyp_file.read_text()) if hyp_file.exists() else {}
            if cached.get("key") == key:
                hyps = cached["hyps"]
            else:
                hyps = transcribe(asr_cli, path, [corpus / u["audio"] for u in utts], beam, threads)
                hyp_file.write_text(json.dumps({"key": key, "hyps": hyps}))
            per[info["row"]][s] = score([u["text"] for u in utts], hyps)
            print(f"{info['row']:<28} {s:<20} WER {per[info['row']][s].wer:6.2f}", flush=True)
        results["rows"].append(info)
    for info in results["rows"]:
        info["sets"] = {}
        for s in sets:
            q, b = per[info["row"]][s], per[baseline][s]
            d: Dict[str, Any] = {"wer": q.wer, "rel": 100.0 * (q.wer - b.wer) / max(1e-9, b.wer), "utts": len(q.words)}
            if info["row"] != baseline:
                d["rel_ci95"] = paired_bootstrap(q, b)
            info["sets"][s] = d
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(markdown(results))
    return results


def markdown(results: Dict[str, Any]) -> str:
    sets = results["sets"]
    head = "| row | method | recipe | bits/weight | weight bytes | " + " | ".join(f"{s} WER (rel., 95% CI)" for s in sets) + " | layers above 2 bits |"
    lines = [head, "|" + "---|" * (6 + len(sets))]
    for r in results["rows"]:
        cells = []
        for s in sets:
            d = r["sets"][s]
            ci = f", [{d['rel_ci95'][0]:+.1f}, {d['rel_ci95'][1]:+.1f}]" if "rel_ci95" in d else ""
            cells.append(f"{d['wer']:.2f} ({d['rel']:+.1f}%{ci})")
        bits = "-" if r["bits_per_weight"] is None else f"{r['bits_per_weight']:.2f}"
        size = "-" if r["weight_bytes"] is None else f"{r['weight_bytes']:,}"
        lines.append(f"| {r['row']} | {r['method']} | {r['recipe']} | {bits} | {size} | " + " | ".join(cells) + f" | {summarise_above(r['above_2_bits'])} |")
    return "\n".join(lines) + "\n"


def plot(results: Dict[str, Any], png: Path) -> None:
    """WER against weight bytes, one marker series per set (matplotlib, optional)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s, mk in zip(results["sets"], "os^v"):
        xs = [r["weight_bytes"] / 1e6 for r in results["rows"]]
        ys = [r["sets"][s]["wer"] for r in results["rows"]]
        ax.scatter(xs, ys, marker=mk, label=s)
        for r, x, y in zip(results["rows"], xs, ys):
            ax.annotate(r["row"], (x, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("weight bytes (MB, log scale; scales and float parameters included)")
    ax.set_ylabel(f"WER % (beam {results['beam']}, C++ engine)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m qasr.quant.results", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--teacher", required=True, help="FP32 checkpoint (.pt, qasr.train_gpu convert) or FP32 model file (.qasr)")
    e.add_argument("--spm", required=True)
    e.add_argument("--out", required=True)
    e.add_argument("--ptq", nargs="*", default=[], help="METHOD:RECIPE (rtn, mse, gptq, gptq-ao)")
    e.add_argument("--calib-manifest", default=None, help="JSONL manifest of GPTQ's calibration utterances")
    e.add_argument("--calib-utts", type=int, default=128)
    e.add_argument("--qat", nargs="*", default=[], help="NAME=qat.npz")
    t = sub.add_parser("table")
    t.add_argument("--asr-cli", required=True)
    t.add_argument("--rows", nargs="+", required=True)
    t.add_argument("--baseline", default="fp32")
    t.add_argument("--sets", nargs="+", default=["test_seen_voice", "test_unseen_voice"])
    t.add_argument("--manifests", default="data/corpus/manifests")
    t.add_argument("--corpus", default="data/corpus")
    t.add_argument("--beam", type=int, default=5)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--limit", type=int, default=0)
    t.add_argument("--out", required=True)
    t.add_argument("--plot", default=None, help="PNG of WER against size")
    a = p.parse_args(argv)
    if a.cmd == "export":
        calibrate = None
        if a.calib_manifest:
            from .io import calibration_runner

            calibrate = calibration_runner(a.calib_manifest, a.spm, a.calib_utts)
        for path in export_rows(Path(a.teacher), Path(a.spm), Path(a.out), a.ptq, a.qat, calibrate):
            print(f"wrote {path}")
        return 0
    res = build_table(Path(a.asr_cli), [Path(r) for r in a.rows], a.baseline, a.sets, Path(a.manifests), Path(a.corpus), a.beam, a.threads, a.limit, Path(a.out))
    print(markdown(res))
    if a.plot:
        plot(res, Path(a.plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line of the quantization toolkit.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant ptq --model models/small-fp32.pt \\
        --recipe w4g64 --method gptq --calib-manifest data/corpus/manifests/train.jsonl \\
        --spm models/small.spm.model --out runs/quant/small-w4g64
    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant report --model runs/quant/small-w4g64/model-quant.pt
    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant report --model models/small-fp32.pt --recipe w2g32
    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant qat --teacher models/small-fp32.pt --recipe w4g64 ...
    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant search --model models/small-fp32.qasr --calib-pack pack/dev \\
        --budget 2.5 --out runs/quant/w2mix.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch


def _ptq(args: argparse.Namespace) -> int:
    from .api import format_report, quantize_model, report
    from .io import calibration_runner, export_packed, load_float, random_calibration, save_quantized
    from .ptq import ptq

    torch.set_num_threads(args.threads)
    t0 = time.time()
    model = quantize_model(load_float(args.model), args.recipe, init="none")
    calib = None
    if args.method.startswith("gptq"):
        if args.calib_manifest:
            if not args.spm:
                raise SystemExit("ptq: --spm is needed with --calib-manifest")
            calib = calibration_runner(args.calib_manifest, args.spm, args.calib_utts)
        else:
            print("ptq: no --calib-manifest, calibrating GPTQ on random inputs (smoke test only)", file=sys.stderr)
            calib = random_calibration
    ptq(model, args.method, calib, args.damp)
    out = Path(args.out)
    rep = report(model)
    save_quantized(model, args.recipe, out / "model-quant.pt", {"ptq": args.method, "source": str(args.model)})
    if args.packed:
        export_packed(model, out / "packed")
    if args.qat_npz:
        from ..train_gpu import qat_to_npz

        qat_to_npz(model, Path(args.qat_npz), args.recipe, {"ptq": args.method, "source": str(args.model)})
    text = format_report(rep)
    (out / "report.txt").write_text(text + "\n")
    print(text)
    print(f"ptq: {args.method} done in {time.time() - t0:.1f} s → {out / 'model-quant.pt'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .api import format_report, quantize_model, report
    from .io import load_quantized

    model = load_quantized(args.model)
    if args.recipe:
        model = quantize_model(model, args.recipe, init="none")
    rep = report(model)
    if args.json:
        rows = [dict(vars(r), bits_per_weight=r.bits_per_weight) for r in rep["layers"]]
        print(json.dumps({**rep, "layers": rows}, indent=1))
    else:
        print(format_report(rep))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qasr.quant", description="qasr quantization toolkit")
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("ptq", help="post-training quantization")
    pp.add_argument("--model", required=True, help="float checkpoint (X.pt) or FP32 model file (models/X-fp32.qasr)")
    pp.add_argument("--recipe", required=True, help="recipe JSON path or bundled name (w8, w4g64, ...)")
    pp.add_argument("--method", choices=("rtn", "mse", "gptq", "gptq-ao"), default="mse")
    pp.add_argument("--calib-manifest", default=None, help="JSONL manifest for GPTQ calibration")
    pp.add_argument("--spm", default=None, help="SentencePiece model (tokens for decoder calibration)")
    pp.add_argument("--calib-utts", type=int, default=128)
    pp.add_argument("--damp", type=float, default=0.01, help="GPTQ dampening (fraction of mean diag H)")
    pp.add_argument("--packed", action="store_true", help="also write packed blobs + index.json")
    pp.add_argument("--qat-npz", default=None, help="also write a QAT start point (qasr.train_gpu qat --student-init)")
    pp.add_argument("--threads", type=int, default=2)
    pp.add_argument("--out", required=True)
    pp.set_defaults(fn=_ptq)
    pr = sub.add_parser("report", help="per-layer bits, groups and bytes")
    pr.add_argument("--model", required=True, help="quantized or float checkpoint")
    pr.add_argument("--recipe", default=None, help="apply this recipe first (sizes only, no PTQ)")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(fn=_report)
    try:
        from .qat import add_parser as add_qat
    except ImportError:  # pragma: no cover
        add_qat = None
    if add_qat is not None:
        add_qat(sub)
    from .search import add_parser as add_search

    add_search(sub)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())

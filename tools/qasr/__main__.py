"""Command line of the qasr Python toolkit.

    PYTHONPATH=tools /usr/bin/python3 -m qasr train --spm ... --out runs/small
    PYTHONPATH=tools /usr/bin/python3 -m qasr transcribe [--model small] FILE...
    PYTHONPATH=tools /usr/bin/python3 -m qasr eval --manifest data/corpus/manifests/dev.jsonl
    PYTHONPATH=tools /usr/bin/python3 -m qasr export --checkpoint runs/small/checkpoint_best.pt --name small
    PYTHONPATH=tools /usr/bin/python3 -m qasr ctc-head --model models/small-fp32.qasr --out OUT.qasr [--also SRC=DST]

transcribe/eval use joint CTC/attention beam search (--ctc-weight, default 0.5) when the .qasr
file has a CTC head (``qasr ctc-head`` adds one), attention-only search otherwise.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import torch

if TYPE_CHECKING:
    from .model import VGGTransformer
    from .tokenizer import Tokenizer

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_CTC_WEIGHT = 0.5  # joint search weight when the model file has a CTC head


def _model_paths(name: str, models_dir: Path) -> tuple:
    return models_dir / f"{name}-fp32.pt", models_dir / f"{name}.spm.model"


def _load(name: str, models_dir: Path, model_path: Optional[str],
          spm_path: Optional[str]) -> Tuple["VGGTransformer", "Tokenizer", Optional[torch.nn.Linear]]:
    """Model + tokenizer + CTC head (None if the file has none): an explicit path (.qasr or
    .pt), else models/NAME-fp32.qasr (the bundled file, tokenizer inside), else
    models/NAME-fp32.pt + models/NAME.spm.model (no CTC head)."""
    from .tokenizer import Tokenizer
    from .train import load_inference_model

    mp, sp = _model_paths(name, models_dir)
    path = Path(model_path) if model_path else (models_dir / f"{name}-fp32.qasr")
    if path.suffix == ".qasr" and (model_path or path.exists()):
        from .export.load import load_ctc_head, load_fp32_model, spm_file

        model, spm_bytes = load_fp32_model(path)
        head = load_ctc_head(path)
        if spm_path:
            return model, Tokenizer(spm_path), head
        tmp = spm_file(spm_bytes)
        try:
            return model, Tokenizer(tmp), head
        finally:
            tmp.unlink()
    model = load_inference_model(Path(model_path) if model_path else mp)
    return model, Tokenizer(spm_path or sp), None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="small", help="model name: models/NAME-fp32.qasr (or NAME-fp32.pt + NAME.spm.model)")
    p.add_argument("--models-dir", default=str(MODELS_DIR))
    p.add_argument("--model-path", default=None, help="explicit .qasr or .pt (overrides --model)")
    p.add_argument("--spm", default=None, help="explicit SentencePiece model (overrides --model)")
    p.add_argument("--beam", type=int, default=5, help="beam size (1 = greedy)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    p.add_argument("--max-len-a", type=float, default=0.5, help="max tokens = a * encoder steps + b (fairseq: a=0, b=200)")
    p.add_argument("--max-len-b", type=int, default=10)
    p.add_argument("--no-repeat-ngram", type=int, default=0, help="repetition guard: forbid repeating n-grams (0 = off)")
    p.add_argument("--ctc-weight", type=float, default=None,
                   help="joint CTC/attention search weight in [0, 1) (default: 0.5 if the model file has a CTC head, else 0)")
    p.add_argument("--ctc-pre-beam", type=int, default=0, help="joint search candidates per hypothesis, the best by attention (0 = every token)")


def _check_ctc_args(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    """Argument errors that need no model."""
    if a.ctc_weight is not None and not 0.0 <= a.ctc_weight < 1.0:
        p.error(f"--ctc-weight must be in [0, 1), got {a.ctc_weight}")
    if a.ctc_pre_beam < 0:
        p.error(f"--ctc-pre-beam must be >= 0, got {a.ctc_pre_beam}")


def _resolve_ctc(p: argparse.ArgumentParser, a: argparse.Namespace, head: Optional[torch.nn.Linear]) -> None:
    """Sets the default --ctc-weight (0.5 with a CTC head, else 0); W > 0 without a head is an error."""
    if a.ctc_weight is None:
        a.ctc_weight = DEFAULT_CTC_WEIGHT if head is not None else 0.0
    elif a.ctc_weight > 0 and head is None:
        p.error(f"--ctc-weight {a.ctc_weight} needs a model file with a CTC head (ctc_head.weight/ctc_head.bias), "
                f"and {a.model_path or a.model} has none: add one with `qasr ctc-head` or pass --ctc-weight 0")


def _beam_cfg(a: argparse.Namespace):
    from .decode import BeamConfig

    return BeamConfig(beam=a.beam, max_len_a=a.max_len_a, max_len_b=a.max_len_b, no_repeat_ngram_size=a.no_repeat_ngram,
                      ctc_weight=a.ctc_weight or 0.0, ctc_pre_beam=a.ctc_pre_beam)


def cmd_transcribe(argv: Sequence[str]) -> int:
    """Transcribes audio files (any sample rate; resampled to 16 kHz)."""
    from .decode import collate_features, decode_ids
    from .features import file_features

    p = argparse.ArgumentParser(prog="qasr transcribe")
    _common(p)
    p.add_argument("--with-names", action="store_true", help="prefix each line with the file name and a tab")
    p.add_argument("files", nargs="+")
    a = p.parse_args(argv)
    _check_ctc_args(p, a)
    torch.set_num_threads(a.threads)
    model, tok, head = _load(a.model, Path(a.models_dir), a.model_path, a.spm)
    _resolve_ctc(p, a, head)
    for f in a.files:
        feats, _ = file_features(f)
        if feats.size(0) < 4:
            text = ""
        else:
            x, lens = collate_features([feats])
            text = tok.decode(decode_ids(model, x, lens, beam=a.beam, beam_cfg=_beam_cfg(a), ctc_head=head)[0])
        print(f"{f}\t{text}" if a.with_names else text, flush=True)
    return 0


def cmd_eval(argv: Sequence[str]) -> int:
    """WER of a model on a manifest."""
    from .data import FeatureCache, read_manifest
    from .train import evaluate

    p = argparse.ArgumentParser(prog="qasr eval")
    _common(p)
    p.add_argument("--manifest", default="data/corpus/manifests/dev.jsonl")
    p.add_argument("--corpus-root", default=None)
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args(argv)
    _check_ctc_args(p, a)
    torch.set_num_threads(a.threads)
    model, tok, head = _load(a.model, Path(a.models_dir), a.model_path, a.spm)
    _resolve_ctc(p, a, head)
    utts = read_manifest(a.manifest, a.corpus_root, a.limit)
    w = evaluate(model, tok, utts, FeatureCache(utts, log_every=0), beam=a.beam, beam_cfg=_beam_cfg(a), ctc_head=head)
    ctc = f", CTC weight {a.ctc_weight}" if a.ctc_weight > 0 else ""
    print(f"WER {w:.2f}% on {len(utts)} utterances of {a.manifest} (beam {a.beam}{ctc})")
    return 0


def cmd_export(argv: Sequence[str]) -> int:
    """Exports a training checkpoint to models/NAME-fp32.pt (+ models/NAME.spm.model)."""
    from .model import VGGTransformer, VGGTransformerConfig
    from .train import export_weights

    p = argparse.ArgumentParser(prog="qasr export")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--name", default="small")
    p.add_argument("--models-dir", default=str(MODELS_DIR))
    a = p.parse_args(argv)
    ck = torch.load(a.checkpoint, map_location="cpu")
    model = VGGTransformer(VGGTransformerConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    mp, sp = _model_paths(a.name, Path(a.models_dir))
    extra = {"train_step": ck.get("step"), "dev_wer_greedy_subset": ck.get("best_wer"), "config_name": ck.get("config_name")}
    export_weights(model, mp, sp.name, extra)
    shutil.copyfile(ck["spm"], sp)
    print(f"wrote {mp} ({mp.stat().st_size / 1e6:.1f} MB) and {sp}; step {ck.get('step')}, best dev WER {ck.get('best_wer')}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Dispatches subcommands."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "train":
        from .train import main as train_main

        train_main(rest)
        return 0
    if cmd == "transcribe":
        return cmd_transcribe(rest)
    if cmd == "eval":
        return cmd_eval(rest)
    if cmd == "export":
        return cmd_export(rest)
    if cmd == "ctc-head":
        from .ctc_head import main as ctc_head_main

        return ctc_head_main(rest)
    print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""Quantization-aware training: distillation from the float teacher, progressive precision.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.quant qat --teacher models/small-fp32.pt \\
        --recipe w2g32 --train-manifest data/corpus/manifests/train.jsonl \\
        --dev-manifest data/corpus/manifests/dev.jsonl --spm models/small.spm.model \\
        --stages 8,4,2 --steps-per-stage 2000 --time-budget 7200 --out runs/qat/small-w2g32

Loss per batch: ``α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE(labels)``, token-level on
the decoder's teacher-forced logits (PAD positions ignored). Stages lower the bits
step by step: in a stage with precision ``p`` every layer uses
``max(p, recipe bits)``; entering a stage re-initialises that layer's step/offset
(MSE clipping) from its current latent weight. Checkpoints (``checkpoint_last.pt``,
atomic) hold model, optimizer, stage and step; a rerun with the same ``--out``
resumes. ``--time-budget`` stops cleanly (with a checkpoint) when exceeded.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, List

import torch
import torch.nn.functional as Fn
from torch import Tensor, nn

from ..model import PAD_ID
from .api import load_recipe, quant_layers, quantize_model
from .fake import WeightFakeQuant


def distill_loss(student: Tensor, teacher: Tensor, targets: Tensor, alpha: float = 0.5, temperature: float = 1.0) -> Dict[str, Tensor]:
    """Token-level KL(teacher ‖ student) at ``temperature`` mixed with label CE; logits (B, U, V)."""
    mask = targets.ne(PAD_ID)
    s = student[mask].float()
    t = teacher[mask].float()
    kl = Fn.kl_div(Fn.log_softmax(s / temperature, -1), Fn.log_softmax(t / temperature, -1), log_target=True, reduction="batchmean")
    ce = Fn.cross_entropy(s, targets[mask])
    loss = alpha * temperature**2 * kl + (1 - alpha) * ce
    return {"loss": loss, "kl": kl.detach(), "ce": ce.detach()}


@torch.no_grad()
def set_precision(model: nn.Module, stage_bits: int) -> None:
    """Every quantized layer to ``max(stage_bits, its recipe bits)``, re-initialising changed ones."""
    for _, m in quant_layers(model):
        target = m.recipe_bits if hasattr(m, "recipe_bits") else m.spec.bits
        m.recipe_bits = target
        bits = max(stage_bits, target)
        if bits == m.spec.bits and getattr(m, "stage_initialised", False):
            continue
        m.spec = dataclasses.replace(m.spec, bits=bits)
        w = m.weight_matrix().detach().float()
        wq = WeightFakeQuant(w.shape[0], w.shape[1], bits, m.wq.group, m.spec.symmetric).to(w.device)
        wq.init_from(w, "mse")
        m.wq = wq
        m.stage_initialised = True


def make_student(teacher: nn.Module, recipe: Any, stage_bits: int, device: Any = None) -> nn.Module:
    """Quantized copy of ``teacher`` at the first stage's precision, on ``device`` (default:
    where the teacher is); the MSE clipping search runs there (minutes on a CPU for a 10 M
    model when it competes for cores, a second on a GPU)."""
    student = quantize_model(copy.deepcopy(teacher), recipe, init="none")
    if device is not None:
        student = student.to(device)
    set_precision(student, stage_bits)
    return student.train()


def make_optimizer(model: nn.Module, lr: float, qparam_lr: float) -> torch.optim.Optimizer:
    """Adam with a separate learning rate for step sizes/offsets (LSQ practice)."""
    qp = [p for n, p in model.named_parameters() if ".wq." in n]
    ids = {id(p) for p in qp}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.Adam([{"params": rest, "lr": lr}, {"params": qp, "lr": qparam_lr}])


def qat_step(student: nn.Module, teacher: nn.Module, batch: Any, opt: torch.optim.Optimizer, alpha: float = 0.5, clip: float = 1.0) -> Dict[str, float]:
    """One optimisation step on a collated batch (``qasr.data.Batch``-like)."""
    student.train()
    with torch.no_grad():
        t_logits = teacher(batch.feats, batch.lengths, batch.prev_tokens)
    s_logits = student(batch.feats, batch.lengths, batch.prev_tokens)
    out = distill_loss(s_logits, t_logits, batch.targets, alpha)
    opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    nn.utils.clip_grad_norm_(student.parameters(), clip)
    opt.step()
    return {k: float(v) for k, v in out.items()}


def save_checkpoint(path: Path, student: nn.Module, opt: torch.optim.Optimizer, recipe: Any, state: Dict[str, Any]) -> None:
    """Atomic resumable checkpoint (model incl. step sizes, optimizer, stage/step)."""
    from .io import recipe_to_json

    obj = {
        "format": "qasr-qat-checkpoint",
        "config": student.cfg.to_dict(),
        "recipe": recipe_to_json(load_recipe(recipe)),
        "bits": {n: m.spec.bits for n, m in quant_layers(student)},
        "model": student.state_dict(),
        "optimizer": opt.state_dict(),
        "state": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, teacher: nn.Module, recipe: Any, lr: float, qparam_lr: float):
    """(student, optimizer, state) from :func:`save_checkpoint`."""
    obj = torch.load(path, map_location="cpu")
    student = quantize_model(copy.deepcopy(teacher), recipe, init="none")
    for n, m in quant_layers(student):
        m.recipe_bits = m.spec.bits
        bits = obj["bits"][n]
        m.spec = dataclasses.replace(m.spec, bits=bits)
        m.wq = WeightFakeQuant(m.wq.scale.shape[0], m.wq.cols, bits, m.wq.group, m.spec.symmetric)
        m.stage_initialised = True
    student.load_state_dict(obj["model"])
    opt = make_optimizer(student, lr, qparam_lr)
    opt.load_state_dict(obj["optimizer"])
    return student.train(), opt, obj["state"]


def run(args: argparse.Namespace) -> int:
    """The ``qat`` subcommand."""
    from ..data import FeatureCache, collate, epoch_batches, make_batches, read_manifest
    from ..tokenizer import Tokenizer
    from .io import load_float, save_quantized

    torch.set_num_threads(args.threads)
    t0 = time.time()
    out = Path(args.out)
    stages: List[int] = [int(s) for s in args.stages.split(",")]
    teacher = load_float(args.teacher).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    ckpt = out / "checkpoint_last.pt"
    if ckpt.exists():
        student, opt, state = load_checkpoint(ckpt, teacher, args.recipe, args.lr, args.qparam_lr)
        print(f"qat: resumed at stage {state['stage']} step {state['step']}", flush=True)
    else:
        student = make_student(teacher, args.recipe, stages[0])
        opt = make_optimizer(student, args.lr, args.qparam_lr)
        state = {"stage": 0, "step": 0, "epoch": 0}
    tok = Tokenizer(args.spm)
    utts = read_manifest(args.train_manifest, limit=args.train_utts)
    cache = FeatureCache(utts, cache_file=args.feature_cache)
    utts = [u for u in utts if u.uid in cache.feats]
    ids = [tok.encode(u.text) for u in utts]
    batches = make_batches([cache.frames(u.uid) for u in utts], args.max_frames)
    while state["stage"] < len(stages):
        set_precision(student, stages[state["stage"]])
        if state["step"] == 0:
            opt = make_optimizer(student, args.lr, args.qparam_lr)  # new step-size parameters
        order = epoch_batches(batches, state["epoch"], args.seed)
        for b in order:
            if state["step"] >= args.steps_per_stage:
                break
            batch = collate([cache[utts[i].uid] for i in b], [ids[i] for i in b], [utts[i].uid for i in b])
            logs = qat_step(student, teacher, batch, opt, args.alpha)
            state["step"] += 1
            if state["step"] % args.log_every == 0:
                print(f"qat: stage {stages[state['stage']]} step {state['step']} " + " ".join(f"{k} {v:.4f}" for k, v in logs.items()), flush=True)
            if state["step"] % args.save_every == 0 or time.time() - t0 > args.time_budget:
                save_checkpoint(ckpt, student, opt, args.recipe, state)
            if time.time() - t0 > args.time_budget:
                print("qat: time budget reached; checkpoint saved, rerun to resume", flush=True)
                return 0
        else:
            state["epoch"] += 1
            continue
        state["stage"] += 1
        state["step"] = 0
        save_checkpoint(ckpt, student, opt, args.recipe, state)
    save_quantized(student, args.recipe, out / "model-quant.pt", {"qat": {k: v for k, v in vars(args).items() if k != "fn"}, "time": time.time() - t0})
    if args.dev_manifest:
        from ..train import evaluate

        dev = read_manifest(args.dev_manifest, limit=args.dev_utts)
        dcache = FeatureCache(dev)
        dev = [u for u in dev if u.uid in dcache.feats]
        w = evaluate(student.eval(), tok, dev, dcache, beam=args.beam)
        print(f"qat: dev WER {w:.2f}% (beam {args.beam})", flush=True)
        (out / "dev_wer.txt").write_text(f"{w:.4f}\n")
    return 0


def add_parser(sub: Any) -> None:
    """Registers ``qat`` on the toolkit's sub-command parser."""
    p = sub.add_parser("qat", help="quantization-aware training (distillation)")
    p.add_argument("--teacher", required=True, help="float checkpoint")
    p.add_argument("--recipe", required=True)
    p.add_argument("--train-manifest", required=True)
    p.add_argument("--dev-manifest", default=None)
    p.add_argument("--spm", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stages", default="8,4,2", help="precisions, highest first (recipe bits are the floor)")
    p.add_argument("--steps-per-stage", type=int, default=2000)
    p.add_argument("--alpha", type=float, default=0.5, help="weight of KL vs label CE")
    p.add_argument("--lr", type=float, default=2e-5)
    p.add_argument("--qparam-lr", type=float, default=1e-4)
    p.add_argument("--max-frames", type=int, default=6000)
    p.add_argument("--train-utts", type=int, default=0, help="0 = all")
    p.add_argument("--dev-utts", type=int, default=200)
    p.add_argument("--feature-cache", default=None)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--time-budget", type=float, default=float("inf"), help="seconds")
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(fn=run)

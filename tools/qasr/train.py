"""Training recipe for qasr's VGGTransformer models (CPU; optional gloo DDP).

* features: :mod:`qasr.features` (computed once, cached fp16), SpecAugment on the fly;
* loss: label-smoothed cross-entropy (0.1) per target token + optional auxiliary CTC on the
  encoder output through a training-only head (saved as ``ctc_head``, never in ``model``);
* AdamW, linear warm-up then cosine decay to ``--min-lr-ratio`` at ``--max-steps`` (constant
  afterwards, so a resumed run may extend ``--max-steps``);
* length-bucketed batches bounded by padded frames (``--max-frames``);
* resumable checkpoints (model, CTC head, optimizer, step, epoch position, RNG) written
  atomically every ``--ckpt-every-min`` minutes and at the end; ``--time-budget-min`` stops
  cleanly; greedy dev WER on a subset every ``--eval-every-min`` minutes (best checkpoint kept).

Run: ``PYTHONPATH=tools /usr/bin/python3 -m qasr train --help``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Batch, FeatureCache, SpecAugment, Utterance, collate, epoch_batches, iterate_eval, make_batches, read_manifest
from .decode import BeamConfig, decode_ids
from .model import PAD_ID, VGGTransformer, VGGTransformerConfig, encoder_lengths, get_config, num_params
from .tokenizer import Tokenizer
from .wer import wer

CKPT_LAST = "checkpoint_last.pt"
CKPT_BEST = "checkpoint_best.pt"


class TrainModule(nn.Module):
    """Model + training-only CTC head; forward returns (loss, stats)."""

    def __init__(self, model: VGGTransformer, ctc_weight: float, label_smoothing: float) -> None:
        super().__init__()
        self.model = model
        self.ctc_weight = ctc_weight
        self.label_smoothing = label_smoothing
        v = model.cfg.vocab_size
        # blank = V (one extra class); not part of the inference model
        self.ctc_head = nn.Linear(model.cfg.enc_output_dim, v + 1) if ctc_weight > 0 else None

    def forward(self, feats: Tensor, lengths: Tensor, prev: Tensor, tgt: Tensor, tlen: Tensor) -> Dict[str, Tensor]:
        enc, mask = self.model.encoder(feats, lengths)
        logits = self.model.decoder(prev, enc, mask).float()
        ntok = tgt.ne(PAD_ID).sum()
        ce = F.cross_entropy(
            logits.view(-1, logits.size(-1)), tgt.view(-1), ignore_index=PAD_ID, reduction="sum", label_smoothing=self.label_smoothing
        )
        nll = F.cross_entropy(logits.view(-1, logits.size(-1)), tgt.view(-1), ignore_index=PAD_ID, reduction="sum").detach()
        loss = ce / ntok
        out = {"ce": ce.detach() / ntok, "nll": nll / ntok}
        if self.ctc_head is not None:
            lp = torch.log_softmax(self.ctc_head(enc).float(), dim=-1).transpose(0, 1)  # (T', B, V+1)
            in_len = encoder_lengths(lengths, self.model.cfg.vgg)
            targets = tgt.masked_fill(tgt.eq(PAD_ID), 0)[:, : int(tlen.max())] if int(tlen.max()) > 0 else tgt[:, :1]
            ctc = F.ctc_loss(lp, targets, in_len, tlen, blank=lp.size(-1) - 1, reduction="sum", zero_infinity=True)
            ctc = ctc / tlen.sum().clamp(min=1)
            loss = (1 - self.ctc_weight) * loss + self.ctc_weight * ctc
            out["ctc"] = ctc.detach()
        out["loss"] = loss
        return out


def lr_at(step: int, peak: float, warmup: int, max_steps: int, min_ratio: float) -> float:
    """Linear warm-up to ``peak`` then cosine decay to ``peak·min_ratio`` at ``max_steps``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    p = min(1.0, (step - warmup) / max(1, max_steps - warmup))
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file then rename (never leaves a half-written checkpoint)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def rng_state() -> Dict[str, Any]:
    """Python and torch RNG states."""
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(s: Dict[str, Any]) -> None:
    """Restores :func:`rng_state`."""
    random.setstate(s["python"])
    torch.set_rng_state(s["torch"])


def evaluate(
    model: VGGTransformer,
    tok: Tokenizer,
    utts: Sequence[Utterance],
    cache: FeatureCache,
    beam: int = 1,
    max_frames: int = 20000,
    beam_cfg: Optional[BeamConfig] = None,
    ctc_head: Optional[nn.Module] = None,
) -> float:
    """Dev WER (%) of ``model`` on ``utts`` (greedy if beam == 1; joint CTC/attention search
    with ``ctc_head`` when ``beam_cfg.ctc_weight > 0``).

    The default length guard allows 0.5 tokens per 40 ms encoder step + 10 (about 2× the
    densest training transcript), which keeps early, babbling checkpoints cheap to score."""
    beam_cfg = beam_cfg or BeamConfig(max_len_a=0.5, max_len_b=10)
    pairs = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for us, x, lens in iterate_eval(utts, cache, max_frames):
            for u, ids in zip(us, decode_ids(model, x, lens, beam=beam, beam_cfg=beam_cfg, ctc_head=ctc_head)):
                pairs.append((u.text, tok.decode(ids)))
    model.train(was_training)
    return wer(pairs)


def export_weights(model: VGGTransformer, path: Path, spm_name: str, extra: Optional[Dict[str, Any]] = None) -> None:
    """Writes an inference checkpoint: fp32 state_dict + config (+ metadata), no optimizer."""
    sd = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    obj = {"format": "qasr-vggtransformer-pt", "version": 1, "config": model.cfg.to_dict(), "model": sd, "spm": spm_name}
    obj.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(obj, path)


def load_inference_model(path: Path) -> VGGTransformer:
    """Loads a model written by :func:`export_weights` or a training checkpoint."""
    obj = torch.load(path, map_location="cpu")
    model = VGGTransformer(VGGTransformerConfig.from_dict(obj["config"]))
    model.load_state_dict(obj["model"])
    model.eval()
    return model


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``qasr train``."""
    p = argparse.ArgumentParser(prog="qasr train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-manifest", default="data/corpus/manifests/train.jsonl")
    p.add_argument("--dev-manifest", default="data/corpus/manifests/dev.jsonl")
    p.add_argument("--corpus-root", default=None, help="base of relative audio paths (default: manifest/../..)")
    p.add_argument("--spm", required=True, help="SentencePiece .model (qasr id convention)")
    p.add_argument("--config", default="small", help="named model config")
    p.add_argument("--out", required=True, help="run directory (checkpoints, logs, feature cache)")
    p.add_argument("--feature-cache", default=None, help="feature cache file (default OUT/feats_train.pt)")
    p.add_argument("--max-frames", type=int, default=6000, help="padded input frames per batch (per process)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=800)
    p.add_argument("--max-steps", type=int, default=20000, help="end of the cosine decay (training may continue at the floor)")
    p.add_argument("--min-lr-ratio", type=float, default=0.05)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--ctc-weight", type=float, default=0.3)
    p.add_argument("--dropout", type=float, default=None, help="override the config's dropouts")
    p.add_argument("--no-specaugment", action="store_true")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (slower without AVX512-BF16)")
    p.add_argument("--threads", type=int, default=2, help="torch threads in total (split over DDP ranks)")
    p.add_argument("--ddp", type=int, default=1, help="number of gloo DDP processes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--time-budget-min", type=float, default=0.0, help="stop (and checkpoint) after this wall time; 0 = off")
    p.add_argument("--stop-step", type=int, default=0, help="stop after this global step; 0 = off")
    p.add_argument("--ckpt-every-min", type=float, default=10.0)
    p.add_argument("--eval-every-min", type=float, default=20.0)
    p.add_argument("--dev-subset", type=int, default=300, help="dev utterances for the periodic WER")
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training utterances")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--reload-manifest", action="store_true", help="re-read the train manifest at every epoch start")
    p.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint_last.pt")
    return p


class Trainer:
    """State of one training process (rank)."""

    def __init__(self, args: argparse.Namespace, rank: int = 0, world: int = 1) -> None:
        self.args, self.rank, self.world = args, rank, world
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(args.seed + rank)
        random.seed(args.seed + rank)
        self.tok = Tokenizer(args.spm)
        cfg = get_config(args.config, self.tok.vocab_size)
        if args.dropout is not None:
            from dataclasses import replace

            d = args.dropout
            cfg = replace(
                cfg,
                encoder_layers=tuple(replace(l, dropout=d, attention_dropout=d, relu_dropout=d) for l in cfg.encoder_layers),
                decoder_layers=tuple(replace(l, dropout=d, attention_dropout=d, relu_dropout=d) for l in cfg.decoder_layers),
            )
        self.model = VGGTransformer(cfg)
        self.module = TrainModule(self.model, args.ctc_weight, args.label_smoothing)
        self.opt = torch.optim.AdamW(self.module.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=args.weight_decay)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        self.best_wer = float("inf")
        self.history: List[Dict[str, Any]] = []
        self.train_utts = read_manifest(args.train_manifest, args.corpus_root, args.train_limit)
        self.train_utts = [u for u in self.train_utts if u.text.strip()]
        self.dev_utts = read_manifest(args.dev_manifest, args.corpus_root, args.dev_subset) if args.dev_manifest and Path(args.dev_manifest).exists() else []
        self.spec = None if args.no_specaugment else SpecAugment()
        self.aug_rng = random.Random(args.seed * 7 + rank)
        self.ddp: Optional[nn.Module] = None
        self.stop_flag = False
        self.in_loop = False

    # ----------------------------------------------------------------- checkpoints

    def state(self) -> Dict[str, Any]:
        """Full resumable state (rank 0's RNG)."""
        return {
            "format": "qasr-train-ckpt",
            "config": self.model.cfg.to_dict(),
            "config_name": self.args.config,
            "model": self.model.state_dict(),
            "ctc_head": None if self.module.ctc_head is None else self.module.ctc_head.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "best_wer": self.best_wer,
            "rng": rng_state(),
            "aug_rng": self.aug_rng.getstate(),
            "args": vars(self.args),
            "history": self.history,
            "spm": str(self.args.spm),
        }

    def save(self, name: str = CKPT_LAST) -> None:
        """Atomic checkpoint write (rank 0 only)."""
        if self.rank == 0:
            atomic_save(self.state(), self.out / name)

    def try_resume(self) -> bool:
        """Loads OUT/checkpoint_last.pt if present; returns whether it did."""
        path = self.out / CKPT_LAST
        if self.args.no_resume or not path.exists():
            return False
        ck = torch.load(path, map_location="cpu")
        self.model.load_state_dict(ck["model"])
        if self.module.ctc_head is not None and ck.get("ctc_head") is not None:
            self.module.ctc_head.load_state_dict(ck["ctc_head"])
        self.opt.load_state_dict(ck["optimizer"])
        self.step, self.epoch, self.batch_in_epoch = ck["step"], ck["epoch"], ck["batch_in_epoch"]
        self.best_wer = ck.get("best_wer", float("inf"))
        self.history = ck.get("history", [])
        if self.rank == 0:
            set_rng_state(ck["rng"])
            self.aug_rng.setstate(ck["aug_rng"])
        else:  # other ranks: deterministic but distinct continuation
            torch.manual_seed(self.args.seed + self.rank + 1000 * self.step)
            self.aug_rng.seed(self.args.seed * 7 + self.rank + 1000 * self.step)
        self.log(f"resumed from {path} at step {self.step} (epoch {self.epoch}, batch {self.batch_in_epoch})")
        return True

    # ----------------------------------------------------------------- helpers

    def log(self, msg: str) -> None:
        """Prints on rank 0."""
        if self.rank == 0:
            print(time.strftime("%H:%M:%S"), msg, flush=True)

    def record(self, **kv: Any) -> None:
        """Appends a JSON line to OUT/log.jsonl and keeps it in the checkpoint history."""
        if self.rank != 0:
            return
        kv["time"] = time.time()
        self.history.append(kv)
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(kv) + "\n")

    def make_batch(self, idx: Sequence[int], cache: FeatureCache, tokens: List[List[int]]) -> Batch:
        """Collates training utterances ``idx`` (with SpecAugment)."""
        feats = []
        for i in idx:
            f = cache[self.train_utts[i].uid]
            feats.append(self.spec(f, self.aug_rng) if self.spec else f)
        return collate(feats, [tokens[i] for i in idx], [self.train_utts[i].uid for i in idx])

    def dev_wer(self, cache: Optional[FeatureCache]) -> Optional[float]:
        """Greedy WER on the dev subset (rank 0)."""
        if self.rank != 0 or not self.dev_utts or cache is None:
            return None
        return evaluate(self.model, self.tok, self.dev_utts, cache, beam=1)

    # ----------------------------------------------------------------- main loop

    def run(self) -> None:
        """Trains until the time budget / stop step; checkpoints along the way."""
        a = self.args
        t_start = time.time()
        self.try_resume()
        self.log(f"config {a.config}: {num_params(self.model):,} params (+ctc head), V={self.model.cfg.vocab_size}, world={self.world}")
        cache_file = Path(a.feature_cache) if a.feature_cache else self.out / "feats_train.pt"
        if self.world > 1 and self.rank != 0:
            torch.distributed.barrier()  # rank 0 builds the cache file first
        t0 = time.time()
        cache = FeatureCache(self.train_utts, cache_file)
        self.train_utts = [u for u in self.train_utts if u.uid in cache.feats]
        if self.world > 1 and self.rank == 0:
            torch.distributed.barrier()
        self.log(f"train features: {len(self.train_utts)} utts in {time.time() - t0:.1f}s")
        dev_cache = FeatureCache(self.dev_utts, self.out / "feats_dev.pt") if self.rank == 0 and self.dev_utts else None
        if dev_cache is not None:
            self.dev_utts = [u for u in self.dev_utts if u.uid in dev_cache.feats]
        tokens, batches = self._prepare(cache)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.ddp = DDP(self.module, find_unused_parameters=False)
        fwd = self.ddp or self.module
        self.module.train()
        self.in_loop = True
        amp = torch.autocast("cpu", dtype=torch.bfloat16) if a.bf16 else nullcontext()
        last_ckpt = last_eval = time.time()
        frames_acc = 0
        t_log = time.time()
        sums: Dict[str, float] = {}
        n_sum = 0
        while True:
            order = epoch_batches(batches, self.epoch, a.seed, self.rank, self.world)
            while self.batch_in_epoch < len(order):
                b = self.make_batch(order[self.batch_in_epoch], cache, tokens)
                lr = lr_at(self.step, a.lr, a.warmup, a.max_steps, a.min_lr_ratio)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                with amp:
                    out = fwd(b.feats, b.lengths, b.prev_tokens, b.targets, b.target_lengths)
                self.opt.zero_grad(set_to_none=True)
                out["loss"].backward()
                gn = torch.nn.utils.clip_grad_norm_(self.module.parameters(), a.clip_norm)
                if torch.isfinite(gn):
                    self.opt.step()
                self.step += 1
                self.batch_in_epoch += 1
                frames_acc += int(b.lengths.sum())
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                n_sum += 1
                if self.step % a.log_every == 0:
                    dt = time.time() - t_log
                    avg = {k: v / n_sum for k, v in sums.items()}
                    fps = frames_acc * self.world / max(dt, 1e-9)
                    self.log(
                        f"step {self.step} ep {self.epoch} lr {lr:.2e} "
                        + " ".join(f"{k} {v:.3f}" for k, v in avg.items())
                        + f" gnorm {float(gn):.2f} {fps:.0f} frames/s ({fps / 100:.1f}x realtime) {dt / n_sum:.2f}s/step"
                    )
                    self.record(step=self.step, epoch=self.epoch, lr=lr, frames_per_s=fps, **avg)
                    sums, n_sum, frames_acc, t_log = {}, 0, 0, time.time()
                now = time.time()
                stop = (a.time_budget_min > 0 and now - t_start >= a.time_budget_min * 60) or (a.stop_step and self.step >= a.stop_step)
                stop = self._agree(stop or self.stop_flag)
                if self.rank == 0 and (now - last_eval >= a.eval_every_min * 60 or (stop and not self.stop_flag)) and dev_cache is not None:
                    w = self.dev_wer(dev_cache)
                    self.log(f"dev WER (greedy, {len(self.dev_utts)} utts) at step {self.step}: {w:.2f}%")
                    self.record(step=self.step, dev_wer=w)
                    if w is not None and w < self.best_wer:
                        self.best_wer = w
                        self.save(CKPT_BEST)
                    last_eval = time.time()
                if now - last_ckpt >= a.ckpt_every_min * 60 or stop:
                    self.save()
                    self.log(f"checkpoint step {self.step} → {self.out / CKPT_LAST}")
                    last_ckpt = time.time()
                if stop:
                    self.log(f"stopping at step {self.step} after {(time.time() - t_start) / 60:.1f} min")
                    return
            self.epoch += 1
            self.batch_in_epoch = 0
            if a.reload_manifest and self.world == 1:
                self._reload(cache)
                tokens, batches = self._prepare(cache)

    def _prepare(self, cache: FeatureCache) -> tuple:
        """Token ids and length-bucketed batches of the current training set."""
        tokens = [self.tok.encode(u.text) for u in self.train_utts]
        lengths = [cache.frames(u.uid) for u in self.train_utts]
        batches = make_batches(lengths, self.args.max_frames)
        self.log(f"{len(self.train_utts)} utts, {len(batches)} batches/epoch, {sum(lengths) / 100 / 3600:.2f} h of audio")
        return tokens, batches

    def _reload(self, cache: FeatureCache) -> None:
        """Re-reads the training manifest (the corpus builder may have appended to it)."""
        utts = [u for u in read_manifest(self.args.train_manifest, self.args.corpus_root, self.args.train_limit) if u.text.strip()]
        if len(utts) > len(self.train_utts):
            t0 = time.time()
            self.train_utts = cache.add(utts)
            self.log(f"manifest grew: now {len(self.train_utts)} utts (features {time.time() - t0:.1f}s)")

    def _agree(self, flag: bool) -> bool:
        """All ranks stop together (any rank's flag)."""
        if self.world == 1:
            return flag
        t = torch.tensor([1 if flag else 0])
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())


def _worker(rank: int, world: int, args: argparse.Namespace, port: int) -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(port)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(max(1, args.threads // world))
    try:
        tr = Trainer(args, rank, world)
        _install_signal(tr)
        tr.run()
    finally:
        torch.distributed.destroy_process_group()


def _install_signal(tr: Trainer) -> None:
    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        if not tr.in_loop:  # still preparing data: nothing to checkpoint (feature cache is saved in parts)
            raise SystemExit(f"received signal {signum} before training started")
        tr.log(f"received signal {signum}: checkpointing and stopping after this step")
        tr.stop_flag = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Entry point of ``qasr train``."""
    args = build_parser().parse_args(argv)
    if args.ddp > 1:
        import socket

        import torch.multiprocessing as mp

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        mp.spawn(_worker, args=(args.ddp, args, port), nprocs=args.ddp, join=True)
        return
    torch.set_num_threads(max(1, args.threads))
    tr = Trainer(args)
    _install_signal(tr)
    tr.run()


if __name__ == "__main__":
    main()

"""In-memory trainer for an accelerator (CUDA) or a big CPU: feature packs, wall-clock schedule.

The CPU recipe (:mod:`qasr.train`) streams features from a cache and spends its time in the
model; on a GPU the Python-side batching would dominate, so this trainer keeps the whole
training set on the device (fp16, ~1.3 GB for 20k utterances) and builds padded batches,
targets and SpecAugment masks with tensor ops.  It reads :mod:`qasr.featpack` packs, so the
corpus travels as ~60 MB.  The schedule is defined over wall-clock time (``--time-budget``),
so one call of fixed length always ends with a fully decayed learning rate, whatever the
device's speed: linear warm-up over ``--warmup`` steps, then cosine decay by elapsed time.

Two modes share the data path:

* ``fp32``: the same loss as :mod:`qasr.train` (label-smoothed CE + auxiliary CTC head);
* ``qat``: quantization-aware training of a :func:`qasr.quant.api.quantize_model` student,
  distilled from a float teacher (:func:`qasr.quant.qat.distill_loss`), with progressive
  precision (``--stages 4,2``: time split ``--stage-split``).

Weights are written as ``.npz`` (plain numpy; readable by any torch version) with the config;
``python3 -m qasr.train_gpu convert`` turns one into the usual inference checkpoint.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import make_batches
from .featpack import read_pack
from .model import EOS_ID, PAD_ID, VGGTransformer, VGGTransformerConfig, get_config, num_params
from .train import TrainModule


class DeviceData:
    """A feature pack resident on ``device``: flat fp16 frames, offsets, padded token ids."""

    def __init__(self, prefix: Path, device: torch.device, workers: int = 8, limit: int = 0) -> None:
        utts, feats = read_pack(prefix, workers)
        if limit:
            utts, feats = utts[:limit], feats[:limit]
        keep = [i for i, f in enumerate(feats) if f.shape[0] >= 8 and utts[i]["tokens"]]
        utts = [utts[i] for i in keep]
        feats = [feats[i] for i in keep]
        self.utts = utts
        self.device = device
        lens = np.array([f.shape[0] for f in feats], dtype=np.int64)
        self.lengths_list = lens.tolist()
        self.flat = torch.from_numpy(np.concatenate(feats)).to(device)
        self.offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lens)[:-1]])).to(device)
        self.lengths = torch.from_numpy(lens).to(device)
        umax = max(len(u["tokens"]) for u in utts) + 1
        tok = torch.full((len(utts), umax), PAD_ID, dtype=torch.long)
        for i, u in enumerate(utts):
            tok[i, : len(u["tokens"])] = torch.tensor(u["tokens"], dtype=torch.long)
        self.tokens = tok.to(device)
        self.tok_len = torch.tensor([len(u["tokens"]) for u in utts], dtype=torch.long, device=device)

    def __len__(self) -> int:
        return len(self.utts)

    def hours(self) -> float:
        return float(sum(self.lengths_list)) / 100 / 3600

    def batch(self, idx: Tensor, specaug: bool = False) -> Dict[str, Tensor]:
        """Padded features (B, T, 80) fp32, lengths, prev tokens, targets, target lengths."""
        lens = self.lengths[idx]
        t = int(lens.max())
        pos = torch.arange(t, device=self.device)
        valid = pos[None, :] < lens[:, None]
        rows = self.offsets[idx][:, None] + torch.minimum(pos[None, :], lens[:, None] - 1)
        x = self.flat[rows].float() * valid[:, :, None]
        if specaug:
            x = spec_augment(x, lens)
        tl = self.tok_len[idx]
        u = int(tl.max()) + 1
        seq = self.tokens[idx, :u]
        tgt = seq.clone()
        tgt[torch.arange(len(idx), device=self.device), tl] = EOS_ID
        prev = torch.cat([torch.full_like(seq[:, :1], EOS_ID), seq[:, :-1]], dim=1)
        return {"feats": x, "lengths": lens, "prev": prev, "tgt": tgt, "tlen": tl}


def spec_augment(x: Tensor, lens: Tensor, freq_masks: int = 2, freq_width: int = 15, time_masks: int = 2, time_width: int = 40, time_ratio: float = 0.1) -> Tensor:
    """Batched SpecAugment with :class:`qasr.data.SpecAugment`'s distributions (mask value 0)."""
    b, t, f = x.shape
    dev = x.device
    fr = torch.arange(f, device=dev)[None, :]
    tr = torch.arange(t, device=dev)[None, :]
    mask = torch.zeros(b, t, f, dtype=torch.bool, device=dev)
    for _ in range(freq_masks):
        w = torch.randint(0, freq_width + 1, (b, 1), device=dev)
        s = (torch.rand(b, 1, device=dev) * (f - w + 1).float()).floor().long()
        mask |= ((fr >= s) & (fr < s + w))[:, None, :]
    tw = torch.clamp((time_ratio * lens.float()).long(), max=time_width)[:, None]
    for _ in range(time_masks):
        w = (torch.rand(b, 1, device=dev) * (tw + 1).float()).floor().long()
        s = (torch.rand(b, 1, device=dev) * (lens[:, None] - w + 1).float()).floor().long()
        mask |= ((tr >= s) & (tr < s + w))[:, :, None]
    return x.masked_fill(mask, 0.0)


def model_to_npz(model: nn.Module, path: Path, extra: Dict[str, Any], dtype: Any = np.float32) -> None:
    """State dict as numpy arrays + ``__meta__`` JSON (config and ``extra``)."""
    arrays = {k: v.detach().cpu().float().numpy().astype(dtype) for k, v in model.state_dict().items()}
    meta = {"config": model.cfg.to_dict(), **extra}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def qat_to_npz(model: nn.Module, path: Path, recipe: Any, extra: Dict[str, Any], dtype: Any = np.float32) -> Dict[str, int]:
    """A quantized (``quantize_model``) model as a ``qat``-mode :func:`model_to_npz` file —
    latent weights, step sizes, offsets and each layer's current bits — that
    :func:`qat_from_npz` (and ``qat --student-init``) restore exactly; returns the bits."""
    from .quant.api import load_recipe, quant_layers
    from .quant.io import recipe_to_json

    bits = {n: m.spec.bits for n, m in quant_layers(model)}
    model_to_npz(model, path, {"mode": "qat", "recipe": {"layers": recipe_to_json(load_recipe(recipe))}, "bits": bits, **extra}, dtype=dtype)
    return bits


def npz_meta(path: Path) -> Dict[str, Any]:
    """The ``__meta__`` JSON of a :func:`model_to_npz` file."""
    with np.load(path) as z:
        return json.loads(bytes(z["__meta__"]).decode())


def model_from_npz(path: Path) -> VGGTransformer:
    """Float model from :func:`model_to_npz` (quantized files: see :func:`qat_from_npz`)."""
    meta = npz_meta(path)
    model = VGGTransformer(VGGTransformerConfig.from_dict(meta["config"]))
    with np.load(path) as z:
        model.load_state_dict({k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files if k != "__meta__"})
    return model.eval()


def qat_from_npz(path: Path) -> nn.Module:
    """Quantized (fake-quant) model from a ``qat``-mode :func:`model_to_npz` file."""
    from .quant.api import quant_layers, quantize_model
    from .quant.fake import WeightFakeQuant

    meta = npz_meta(path)
    model = VGGTransformer(VGGTransformerConfig.from_dict(meta["config"]))
    quantize_model(model, meta["recipe"], init="none")
    for n, m in quant_layers(model):
        bits = meta["bits"][n]
        m.recipe_bits = m.spec.bits
        m.spec = dataclasses.replace(m.spec, bits=bits)
        m.wq = WeightFakeQuant(m.wq.scale.shape[0], m.wq.cols, bits, m.wq.group, m.spec.symmetric)
        m.stage_initialised = True
    with np.load(path) as z:
        model.load_state_dict({k: torch.from_numpy(z[k].astype(np.float32)) for k in z.files if k != "__meta__"})
    return model.eval()


def lr_factor(step: int, frac: float, warmup: int, min_ratio: float, warmup_frac: float = 0.15) -> float:
    """Linear warm-up that ends after ``warmup`` steps or ``warmup_frac`` of the time, whichever
    comes first (a slow device still gets its peak rate), then cosine decay by elapsed-time
    fraction ``frac`` ∈ [0, 1]."""
    w = min(1.0, max((step + 1) / max(1, warmup), frac / warmup_frac))
    c = min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
    return w * c


class Runner:
    """Shared state of one run: data, device, logging."""

    def __init__(self, a: argparse.Namespace) -> None:
        self.a = a
        self.t0 = time.time()
        self.out = Path(a.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = torch.device(a.device if a.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
        torch.manual_seed(a.seed)
        random.seed(a.seed)
        if a.threads:
            torch.set_num_threads(a.threads)
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.train = DeviceData(Path(a.pack), self.device, a.workers, a.train_limit)
        self.dev = DeviceData(Path(a.dev_pack), self.device, a.workers, a.dev_limit) if a.dev_pack else None
        self.log(f"data: {len(self.train)} train utts ({self.train.hours():.2f} h), {len(self.dev) if self.dev else 0} dev, device {self.device}, load {time.time() - self.t0:.1f}s")
        self.batches = [torch.tensor(b, dtype=torch.long, device=self.device) for b in make_batches(self.train.lengths_list, a.max_frames, a.max_batch)]
        self.dev_batches = [torch.tensor(b, dtype=torch.long, device=self.device) for b in make_batches(self.dev.lengths_list, 40000, 256)] if self.dev else []

    def log(self, msg: str, **kv: Any) -> None:
        print(f"[{time.time() - self.t0:7.1f}s] {msg}", flush=True)
        if kv:
            kv["t"] = round(time.time() - self.t0, 2)
            with open(self.out / "log.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(kv) + "\n")

    def autocast(self) -> Any:
        if self.device.type == "cuda" and self.a.bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return torch.autocast("cpu", enabled=False)

    def batch_order(self, epoch: int) -> List[Tensor]:
        order = list(range(len(self.batches)))
        random.Random(self.a.seed * 1009 + epoch).shuffle(order)
        return [self.batches[i] for i in order]

    @torch.no_grad()
    def dev_eval(self, model: nn.Module, wer_utts: int = 0) -> Dict[str, float]:
        """Teacher-forced dev NLL/token and accuracy; greedy WER on the first ``wer_utts``."""
        if not self.dev:
            return {}
        was = model.training
        model.eval()
        nll = 0.0
        correct = 0
        ntok = 0
        for idx in self.dev_batches:
            b = self.dev.batch(idx)
            with self.autocast():
                logits = model(b["feats"], b["lengths"], b["prev"]).float()
            m = b["tgt"].ne(PAD_ID)
            nll += float(F.cross_entropy(logits[m], b["tgt"][m], reduction="sum"))
            correct += int((logits.argmax(-1)[m] == b["tgt"][m]).sum())
            ntok += int(m.sum())
        res = {"dev_nll": nll / max(1, ntok), "dev_acc": correct / max(1, ntok)}
        if wer_utts:
            try:
                res["dev_wer_greedy"] = self.greedy_wer(model, wer_utts)
            except Exception as e:  # noqa: BLE001 - a metric must not lose the run
                self.log(f"greedy WER failed: {e!r}")
        model.train(was)
        return res

    @torch.no_grad()
    def greedy_wer(self, model: nn.Module, n: int) -> float:
        from .decode import BeamConfig, decode_ids
        from .tokenizer import Tokenizer
        from .wer import wer

        tok = Tokenizer(self.a.spm)
        pairs = []
        ids = list(range(min(n, len(self.dev))))
        for i in range(0, len(ids), 100):
            idx = torch.tensor(ids[i : i + 100], dtype=torch.long, device=self.device)
            b = self.dev.batch(idx)
            hyps = decode_ids(model, b["feats"], b["lengths"], beam=1, beam_cfg=BeamConfig(max_len_a=0.5, max_len_b=10))
            pairs += [(self.dev.utts[j]["text"], tok.decode(h)) for j, h in zip(ids[i : i + 100], hyps)]
        return wer(pairs)


class CtcLoss(TrainModule):
    """:class:`qasr.train.TrainModule` (label-smoothed CE + auxiliary CTC) on this trainer's batch dicts."""

    def forward(self, b: Dict[str, Tensor]) -> Dict[str, Tensor]:  # type: ignore[override]
        return super().forward(b["feats"], b["lengths"], b["prev"], b["tgt"], b["tlen"])


def train_loop(r: Runner, params: Sequence[Any], opt: torch.optim.Optimizer, step_fn: Any, budget: float, tag: str, on_eval: Any) -> int:
    """Runs ``step_fn(batch) -> dict`` until ``budget`` seconds from now; returns the steps."""
    a = r.a
    t_start = time.time()
    if budget <= 0:
        r.log(f"{tag}: no time left, skipping")
        return 0
    base = [g["lr"] for g in opt.param_groups]
    step = 0
    epoch = 0
    sums: Dict[str, float] = {}
    n = 0
    frames = 0
    t_log = t_eval = time.time()
    while True:
        for idx in r.batch_order(epoch):
            frac = (time.time() - t_start) / budget
            if frac >= 1.0:
                return step
            f = lr_factor(step, frac, a.warmup, a.min_lr_ratio)
            for g, b0 in zip(opt.param_groups, base):
                g["lr"] = b0 * f
            b = r.train.batch(idx, specaug=not a.no_specaugment)
            with r.autocast():
                out = step_fn(b)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            gn = torch.nn.utils.clip_grad_norm_(params, a.clip_norm)
            if torch.isfinite(gn):
                opt.step()
            step += 1
            frames += int(idx.numel())
            if step % a.log_every == 0:
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach())
                n += 1
                dt = time.time() - t_log
                r.log(
                    f"{tag} step {step} ep {epoch} lr {base[0] * f:.2e} " + " ".join(f"{k} {v / n:.3f}" for k, v in sums.items()) + f" gn {float(gn):.2f} {a.log_every / dt:.1f} steps/s",
                    tag=tag, step=step, epoch=epoch, lr=base[0] * f, gnorm=float(gn), **{k: v / n for k, v in sums.items()},
                )
                sums, n, t_log = {}, 0, time.time()
            if time.time() - t_eval >= a.eval_every:
                on_eval(step)
                t_eval = time.time()
        epoch += 1


def run_fp32(a: argparse.Namespace) -> None:
    r = Runner(a)
    vocab = int(max(int(r.train.tokens.max()) + 1, a.vocab))
    cfg = get_config(a.config, vocab)
    if a.dropout is not None:
        d = a.dropout
        cfg = dataclasses.replace(
            cfg,
            encoder_layers=tuple(dataclasses.replace(l, dropout=d, attention_dropout=d, relu_dropout=d) for l in cfg.encoder_layers),
            decoder_layers=tuple(dataclasses.replace(l, dropout=d, attention_dropout=d, relu_dropout=d) for l in cfg.decoder_layers),
        )
    model = VGGTransformer(cfg)
    if a.init:
        model = model_from_npz(Path(a.init)).train()
        cfg = model.cfg
        r.log(f"initialised from {a.init}")
    model = model.to(r.device)
    mod = CtcLoss(model, a.ctc_weight, a.label_smoothing).to(r.device)
    r.log(f"fp32 {a.config}: {num_params(model):,} params, V={cfg.vocab_size}, lr {a.lr}, warmup {a.warmup}, ctc {a.ctc_weight}")
    opt = torch.optim.AdamW(mod.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-8, weight_decay=a.weight_decay)
    best = {"dev_nll": float("inf")}

    def on_eval(step: int) -> None:
        res = r.dev_eval(model)
        r.log(f"eval step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), tag="eval", step=step, **res)
        if res.get("dev_nll", float("inf")) < best["dev_nll"]:
            best.update(res, step=step)
            model_to_npz(model, r.out / "best.npz", {"mode": "fp32", "step": step, "args": vars(a), **res})

    steps = train_loop(r, list(mod.parameters()), opt, mod, a.time_budget - (time.time() - r.t0) - a.reserve, "fp32", on_eval)
    res = r.dev_eval(model, wer_utts=a.wer_utts)
    r.log(f"final step {steps}: " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), tag="final", step=steps, **res)
    model_to_npz(model, r.out / "last.npz", {"mode": "fp32", "step": steps, "args": vars(a), **res})
    if res.get("dev_nll", float("inf")) <= best["dev_nll"]:
        model_to_npz(model, r.out / "best.npz", {"mode": "fp32", "step": steps, "args": vars(a), **res})
        best.update(res, step=steps)
    (r.out / "summary.json").write_text(json.dumps({"best": best, "final": res, "steps": steps, "params": num_params(model)}))


def run_qat(a: argparse.Namespace) -> None:
    from .quant.qat import distill_loss, make_optimizer, make_student, set_precision

    r = Runner(a)
    teacher_cpu = model_from_npz(Path(a.teacher))
    stages = [int(s) for s in a.stages.split(",")]
    split = [float(s) for s in a.stage_split.split(",")] if a.stage_split else [1.0 / len(stages)] * len(stages)
    if a.student_init:  # continue an earlier QAT run (its step sizes and precisions as saved)
        student = qat_from_npz(Path(a.student_init)).to(r.device).train()
        set_precision(student, stages[0])
    else:
        student = make_student(teacher_cpu, a.recipe, stages[0], r.device)
    teacher = teacher_cpu.to(r.device).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    r.log(f"qat {a.recipe}: stages {stages} split {split}; teacher {a.teacher}")
    res0 = r.dev_eval(student)
    r.log(("qat init (continued) " if a.student_init else "qat init (PTQ-MSE) ") + " ".join(f"{k} {v:.4f}" for k, v in res0.items()), tag="qat_init", **res0)

    def step_fn(b: Dict[str, Tensor]) -> Dict[str, Tensor]:
        with torch.no_grad():
            t_logits = teacher(b["feats"], b["lengths"], b["prev"])
        s_logits = student(b["feats"], b["lengths"], b["prev"])
        return distill_loss(s_logits.float(), t_logits.float(), b["tgt"], a.alpha, a.temperature)

    dtype = np.float16 if a.save_fp16 else np.float32

    def save(name: str, res: Dict[str, Any], **extra: Any) -> Dict[str, int]:
        return qat_to_npz(student, r.out / name, a.recipe, {"args": vars(a), **extra, **res}, dtype=dtype)

    def on_eval(step: int) -> None:
        res = r.dev_eval(student)
        r.log(f"qat eval step {step}: " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), tag="qat_eval", step=step, **res)
        save("qat_last.npz", res, step=step)  # a long (CPU) run that is stopped keeps its progress

    remaining = a.time_budget - (time.time() - r.t0) - a.reserve
    for si, bits in enumerate(stages):
        if si > 0:
            set_precision(student, bits)
        opt = make_optimizer(student, a.lr, a.qparam_lr)
        budget = remaining * split[si]
        steps = train_loop(r, list(student.parameters()), opt, step_fn, budget, f"qat-w{bits}", on_eval)
        res = r.dev_eval(student)
        r.log(f"qat stage w{bits} done after {steps} steps: " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), tag="qat_stage", bits=bits, step=steps, **res)
    res = r.dev_eval(student, wer_utts=a.wer_utts)
    r.log("qat final " + " ".join(f"{k} {v:.4f}" for k, v in res.items()), tag="qat_final", **res)

    bits = save("qat.npz", res)
    (r.out / "summary.json").write_text(json.dumps({"final": res, "init": res0, "bits": bits}))


def export_npz(npz: Path, spm: Path, out: Path) -> int:
    """A run's weights as a ``.qasr`` file (bytes written): FP32 for ``fp32``-mode files; for
    ``qat``-mode ones the quantized model with the metadata ``qasr.quant.results table`` reads
    (row = the file's stem), so a device run returns engine files of a few MB instead of
    training state."""
    meta = npz_meta(npz)
    if meta.get("mode") == "qat":
        from .quant.results import export_row

        args = meta.get("args", {})
        export_row(qat_from_npz(npz), spm, out, out.stem, meta.get("recipe"),
                   {"method": "QAT", "recipe": args.get("recipe", ""), "qat_args": args,
                    **{k: meta[k] for k in ("dev_nll", "dev_acc", "dev_wer_greedy") if k in meta}})
        return out.stat().st_size
    import tempfile

    from .export.fp32 import export_fp32
    from .train import export_weights

    with tempfile.TemporaryDirectory() as tmp:
        pt = Path(tmp) / "model.pt"
        export_weights(model_from_npz(npz), pt, spm.name, {"train_gpu": {k: v for k, v in meta.items() if k != "config"}})
        return export_fp32(pt, spm, out)


def select_run(runs: Sequence[str]) -> str:
    """The run with the lowest final dev greedy WER (then dev NLL); runs without a summary lose."""
    scored = []
    for d in runs:
        f = Path(d) / "summary.json"
        if not f.exists():
            continue
        fin = json.loads(f.read_text()).get("final", {})
        scored.append((fin.get("dev_wer_greedy", float("inf")), fin.get("dev_nll", float("inf")), d))
    if not scored:
        raise SystemExit("select: no run finished")
    return min(scored)[2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qasr.train_gpu", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    for mode in ("fp32", "qat"):
        s = sub.add_parser(mode)
        s.add_argument("--pack", required=True, help="training feature pack prefix")
        s.add_argument("--dev-pack", default=None)
        s.add_argument("--spm", required=True, help="SentencePiece model (for WER)")
        s.add_argument("--out", required=True)
        s.add_argument("--device", default="auto")
        s.add_argument("--time-budget", type=float, required=True, help="seconds for the whole process")
        s.add_argument("--reserve", type=float, default=20.0, help="seconds kept for the final evaluation and save")
        s.add_argument("--max-frames", type=int, default=60000)
        s.add_argument("--max-batch", type=int, default=512)
        s.add_argument("--warmup", type=int, default=800)
        s.add_argument("--min-lr-ratio", type=float, default=0.02)
        s.add_argument("--clip-norm", type=float, default=5.0)
        s.add_argument("--no-specaugment", action="store_true")
        s.add_argument("--bf16", action="store_true")
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--workers", type=int, default=8)
        s.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
        s.add_argument("--train-limit", type=int, default=0)
        s.add_argument("--dev-limit", type=int, default=0)
        s.add_argument("--eval-every", type=float, default=45.0, help="seconds")
        s.add_argument("--wer-utts", type=int, default=400, help="dev utterances for the final greedy WER")
        s.add_argument("--log-every", type=int, default=50)
        if mode == "fp32":
            s.add_argument("--config", default="small")
            s.add_argument("--vocab", type=int, default=0)
            s.add_argument("--lr", type=float, default=1e-3)
            s.add_argument("--weight-decay", type=float, default=0.01)
            s.add_argument("--ctc-weight", type=float, default=0.3)
            s.add_argument("--label-smoothing", type=float, default=0.1)
            s.add_argument("--dropout", type=float, default=None)
            s.add_argument("--init", default=None, help="start from this .npz (e.g. to continue a run elsewhere)")
        else:
            s.add_argument("--teacher", required=True, help="fp32 .npz from the fp32 mode")
            s.add_argument("--recipe", required=True)
            s.add_argument("--stages", default="4,2")
            s.add_argument("--stage-split", default="", help="time fractions per stage, e.g. 0.3,0.7")
            s.add_argument("--lr", type=float, default=1e-4)
            s.add_argument("--qparam-lr", type=float, default=1e-3)
            s.add_argument("--alpha", type=float, default=0.7)
            s.add_argument("--temperature", type=float, default=1.0)
            s.add_argument("--save-fp16", action="store_true")
            s.add_argument("--student-init", default=None, help="continue from this qat-mode .npz instead of quantizing the teacher afresh")
    sel = sub.add_parser("select", help="print the run directory whose final model is best on dev")
    sel.add_argument("runs", nargs="+")
    e = sub.add_parser("export", help="npz → .qasr model file (fp32 or, for qat-mode files, quantized), e.g. on the device")
    e.add_argument("npz")
    e.add_argument("--spm", required=True)
    e.add_argument("--out", required=True)
    c = sub.add_parser("convert", help="npz → inference checkpoint (.pt) for qasr transcribe/eval/export")
    c.add_argument("npz")
    c.add_argument("out")
    c.add_argument("--spm", required=True)
    return p


def main(argv: Optional[Sequence[str]] = None) -> None:
    a = build_parser().parse_args(argv)
    if a.mode == "fp32":
        run_fp32(a)
    elif a.mode == "qat":
        run_qat(a)
    elif a.mode == "select":
        print(select_run(a.runs))
    elif a.mode == "export":
        print(f"wrote {a.out} ({export_npz(Path(a.npz), Path(a.spm), Path(a.out)):,} bytes)")
    else:
        from .train import export_weights

        meta = npz_meta(Path(a.npz))
        model = model_from_npz(Path(a.npz))
        export_weights(model, Path(a.out), Path(a.spm).name, {"train_gpu": {k: v for k, v in meta.items() if k != "config"}})
        print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

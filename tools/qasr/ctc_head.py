"""CTC head on the frozen encoder: prefix scores for joint CTC/attention search, training, export.

The bundled encoders were trained with an auxiliary CTC loss whose head was not kept; this
module retrains one on frozen encoder outputs and stores it in a ``.qasr`` file, where the
joint search of :mod:`qasr.decode` (and the C++ ``decoder/search``) uses it.

**Tensors** (optional in a ``.qasr`` file): ``ctc_head.weight`` f32 [V+1, D] and
``ctc_head.bias`` f32 [V+1], V the vocabulary, D the encoder output dim; class V is the blank.
CTC log-probs of an utterance = float32 ``log_softmax(enc @ W^T + b)`` over its T valid encoder
frames (after the encoder's final LayerNorm), used as float64 by the prefix scorer.

**Prefix score** (Watanabe et al. 2017, ESPnet style; double precision, log domain, the finite
sentinel ``NEG = -1e30`` for log 0, ``lae(a, b) = max(a, b) + log1p(exp(-|a - b|))``): a prefix g
keeps per frame t ``rn[t]`` (frames 0..t emit g, ending in its last label) and ``rb[t]`` (ending
in blank).

* empty prefix: ``rn[t] = NEG``, ``rb[t] = x[0][b] + ... + x[t][b]``; score 0;
* g + c (c != EOS): ``rsum[t] = lae(rn_g[t], rb_g[t])``, ``phi[t] = rb_g[t]`` if c is g's last
  label else ``rsum[t]``; ``rn[0] = x[0][c]`` if g is empty else NEG; ``rb[0] = NEG``;
  ``psi = rn[0]``; for t = 1..T-1: ``rn[t] = lae(rn[t-1], phi[t-1]) + x[t][c]``,
  ``rb[t] = lae(rb[t-1], rn[t-1]) + x[t][b]``, ``psi = lae(psi, phi[t-1] + x[t][c])``.
  psi is the log-probability that the labelling starts with g + c;
* g + EOS: ``psi = lae(rn_g[T-1], rb_g[T-1])``, the log-probability of exactly g.

**Training** (``python -m qasr ctc-head``): encoder outputs of manifest rows (1 thread, cached
fp16), Adam on the per-token CTC loss (blank V, zero_infinity) in length-sorted batches shuffled
per epoch; the head is then added to the model file (and to quantized siblings with ``--also``),
everything else in the file kept as it was::

    PYTHONPATH=tools /usr/bin/python3 -m qasr ctc-head --model models/small-fp32.qasr \\
        --train-manifest data/corpus/manifests/train.jsonl --dev-manifest data/corpus/manifests/dev.jsonl \\
        --cache runs/ctc/enc.pt --out runs/ctc/small-fp32.qasr --replace \\
        --also models/small-w8.qasr=runs/ctc/small-w8.qasr

(the defaults, 4 epochs at lr 1e-3, made the bundled heads; a quantized ``--model`` is loaded
with its packed weights dequantized, see :func:`qasr.export.load.load_fp32_model`).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .export.load import CTC_HEAD_BIAS, CTC_HEAD_WEIGHT
from .model import EOS_ID, VGGTransformer

NEG = -1e30  # log 0 of the prefix scorer (finite, so that NEG - NEG = 0)


# ----------------------------------------------------------------------------- prefix scores


def lae(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(a) + exp(b)) as the definition computes it: max(a, b) + log1p(exp(-|a - b|))."""
    return np.maximum(a, b) + np.log1p(np.exp(-np.abs(a - b)))


@torch.no_grad()
def ctc_log_probs(head: nn.Module, enc: Tensor) -> np.ndarray:
    """CTC log-probs float32 (T, V+1) of one utterance's valid encoder frames ``enc`` (T, D)."""
    return torch.log_softmax(head(enc.float()).float(), dim=-1).numpy()


class CtcPrefixScorer:
    """Prefix scores of one utterance (module docstring), vectorised over many extensions.

    A prefix's state is its (rn, rb) columns; the states of R prefixes are (T, R) arrays
    (frame-major), so that one step's extensions of every row run as one loop over frames."""

    def __init__(self, log_probs: np.ndarray, eos: int = EOS_ID) -> None:
        x = np.asarray(log_probs, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 2:
            raise ValueError(f"CTC log-probs must be (frames >= 1, V + 1 >= 2), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("CTC log-probs must be finite")
        self.x = x
        self.frames, classes = x.shape
        self.blank = classes - 1
        self.eos = eos

    def empty(self) -> Tuple[np.ndarray, np.ndarray]:
        """State (rn, rb), each (T,), of the empty prefix."""
        return np.full(self.frames, NEG), np.cumsum(self.x[:, self.blank])

    def extend(self, rn: np.ndarray, rb: np.ndarray, last: np.ndarray, rows: np.ndarray,
               tokens: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores prefix ``rows[i]`` + ``tokens[i]`` for every i.

        ``rn``, ``rb``: (T, R) states of R prefixes; ``last``: (R,) their last tokens (-1 for the
        empty prefix). Returns psi (N,) and the new states rn, rb (T, N) (columns of EOS
        extensions are meaningless)."""
        rows = np.asarray(rows, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        last = np.asarray(last, dtype=np.int64)
        x, t_max = self.x, self.frames
        g_rn, g_rb = rn[:, rows], rb[:, rows]
        rsum = lae(g_rn, g_rb)
        phi = np.where((tokens == last[rows])[None, :], g_rb, rsum)
        xc = x[:, tokens]
        xb = x[:, self.blank]
        n = tokens.size
        new_rn = np.full((t_max, n), NEG)
        new_rb = np.full((t_max, n), NEG)
        new_rn[0] = np.where(last[rows] < 0, xc[0], NEG)
        psi = new_rn[0].copy()
        for t in range(1, t_max):
            new_rn[t] = lae(new_rn[t - 1], phi[t - 1]) + xc[t]
            new_rb[t] = lae(new_rb[t - 1], new_rn[t - 1]) + xb[t]
            psi = lae(psi, phi[t - 1] + xc[t])
        eos = tokens == self.eos
        psi[eos] = rsum[t_max - 1, eos]
        return psi, new_rn, new_rb

    def score(self, prefix: Sequence[int]) -> float:
        """psi of ``prefix`` (built token by token; a final EOS gives the probability of exactly
        the tokens before it); 0 for the empty prefix."""
        rn, rb = (a[:, None] for a in self.empty())
        last, psi = -1, 0.0
        for c in prefix:
            p, rn, rb = self.extend(rn, rb, np.array([last]), np.array([0]), np.array([c]))
            psi, last = float(p[0]), int(c)
        return psi


# ----------------------------------------------------------------------------- encoding


@dataclass
class EncodedUtterance:
    """One manifest row's encoder output (T valid frames, float16) and target ids."""

    uid: str
    text: str
    ids: List[int]
    enc: Tensor  # (T, D) float16


@torch.no_grad()
def encode_utterances(model: VGGTransformer, encode_text: Callable[[str], List[int]], utts: Sequence[Any],
                      threads: int = 1, log_every: int = 1000) -> List[EncodedUtterance]:
    """Encoder outputs of manifest rows (:class:`qasr.data.Utterance`); features from
    :mod:`qasr.features` (no dither), encoder in eval mode without gradients, ``threads`` torch
    threads. Rows with empty text or ids, unreadable audio or fewer than 8 frames are skipped."""
    from .features import compute_features, load_audio

    was_training, before = model.training, torch.get_num_threads()
    model.eval()
    torch.set_num_threads(threads)
    out: List[EncodedUtterance] = []
    t0 = time.time()
    try:
        for i, u in enumerate(utts):
            ids = encode_text(u.text) if u.text.strip() else []
            if not ids:
                continue
            try:
                f = compute_features(load_audio(u.audio))
            except Exception as e:  # noqa: BLE001 - a corrupt file must not stop the run
                print(f"ctc-head: skipping {u.uid}: {e}", flush=True)
                continue
            if f.size(0) < 8:
                continue
            enc, _ = model.encoder(f[None], torch.tensor([f.size(0)]))
            out.append(EncodedUtterance(u.uid, u.text, list(ids), enc[0].to(torch.float16)))
            if log_every and (i + 1) % log_every == 0:
                print(f"ctc-head: encoded {i + 1}/{len(utts)} ({time.time() - t0:.0f}s)", flush=True)
    finally:
        torch.set_num_threads(before)
        model.train(was_training)
    return out


# ----------------------------------------------------------------------------- training


def ctc_batch_loss(head: nn.Module, rows: Sequence[EncodedUtterance]) -> Tuple[Tensor, int]:
    """(summed CTC loss, number of target tokens) of a batch; blank = V, zero_infinity."""
    lengths = torch.tensor([r.enc.size(0) for r in rows], dtype=torch.long)
    x = torch.zeros(len(rows), int(lengths.max()), rows[0].enc.size(1))
    for i, r in enumerate(rows):
        x[i, : r.enc.size(0)] = r.enc.float()
    lp = torch.log_softmax(head(x).float(), dim=-1).transpose(0, 1)  # (T, B, V+1)
    targets = torch.tensor([t for r in rows for t in r.ids], dtype=torch.long)
    tlen = torch.tensor([len(r.ids) for r in rows], dtype=torch.long)
    loss = F.ctc_loss(lp, targets, lengths, tlen, blank=lp.size(-1) - 1, reduction="sum", zero_infinity=True)
    return loss, int(tlen.sum())


def _batches(rows: Sequence[EncodedUtterance], batch_size: int) -> List[List[int]]:
    order = sorted(range(len(rows)), key=lambda i: (rows[i].enc.size(0), i))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def ctc_loss_per_token(head: nn.Module, rows: Sequence[EncodedUtterance], batch_size: int = 32) -> float:
    """CTC loss per target token of ``head`` on ``rows``."""
    total, ntok = 0.0, 0
    for b in _batches(rows, batch_size):
        loss, n = ctc_batch_loss(head, [rows[i] for i in b])
        total += float(loss)
        ntok += n
    return total / max(ntok, 1)


def train_ctc_head(encoded_rows: Sequence[EncodedUtterance], vocab: int, dim: int, epochs: int = 4, lr: float = 1e-3,
                   seed: int = 0, dev_rows: Optional[Sequence[EncodedUtterance]] = None, batch_size: int = 32,
                   log: Callable[[str], None] = print) -> nn.Linear:
    """A ``Linear(dim, vocab + 1)`` CTC head (blank = vocab) trained with Adam on frozen encoder
    outputs: length-sorted batches of ``batch_size`` utterances, shuffled per epoch (seeded),
    loss per target token; logs the per-epoch train (running) and dev CTC loss per token."""
    if not encoded_rows:
        raise ValueError("no training utterances")
    torch.manual_seed(seed)
    head = nn.Linear(dim, vocab + 1)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    batches = _batches(encoded_rows, batch_size)
    t0 = time.time()
    for epoch in range(epochs):
        order = list(range(len(batches)))
        random.Random(seed * 100003 + epoch).shuffle(order)
        total, ntok = 0.0, 0
        for j in order:
            loss, n = ctc_batch_loss(head, [encoded_rows[i] for i in batches[j]])
            opt.zero_grad(set_to_none=True)
            (loss / max(n, 1)).backward()
            opt.step()
            total += float(loss)
            ntok += n
        dev = f" dev {ctc_loss_per_token(head, dev_rows, batch_size):.4f}" if dev_rows else ""
        log(f"ctc-head epoch {epoch + 1}/{epochs}: train {total / max(ntok, 1):.4f}{dev} CTC loss/token "
            f"({time.time() - t0:.0f}s)")
    return head.eval()


# ----------------------------------------------------------------------------- model files


def head_tensors(head: nn.Linear) -> Dict[str, np.ndarray]:
    """The file's two tensors (f32) of a head."""
    return {
        CTC_HEAD_WEIGHT: head.weight.detach().float().contiguous().numpy().copy(),
        CTC_HEAD_BIAS: head.bias.detach().float().contiguous().numpy().copy(),
    }


def add_ctc_head(src_path: Union[str, Path], dst_path: Union[str, Path], head: nn.Linear,
                 metadata_extra: Optional[Mapping[str, Any]] = None, replace: bool = False) -> int:
    """Rewrites ``src_path`` to ``dst_path`` (may be the same file) with the head's two tensors
    appended and ``metadata["ctc_head"] = metadata_extra``; config, feature config, tokenizer,
    other metadata and every other tensor (packed ones included) are kept as they are. Refuses a
    file that already has a head unless ``replace``. Returns the new file's size in bytes."""
    from .export.container import write_model
    from .export.reader import read_model

    m = read_model(src_path)
    vocab, dim = int(m.config["vocab_size"]), int(m.config["enc_output_dim"])
    w, b = head_tensors(head).values()
    if w.shape != (vocab + 1, dim) or b.shape != (vocab + 1,):
        raise ValueError(f"{src_path}: a CTC head must be [{vocab + 1}, {dim}] + [{vocab + 1}], got {list(w.shape)} + {list(b.shape)}")
    present = [n for n in (CTC_HEAD_WEIGHT, CTC_HEAD_BIAS) if n in m.tensors]
    if present and not replace:
        raise ValueError(f"{src_path} already has a CTC head ({', '.join(present)}); pass replace=True (--replace) to overwrite it")
    tensors = {n: t for n, t in m.tensors.items() if n not in (CTC_HEAD_WEIGHT, CTC_HEAD_BIAS)}
    tensors.update({CTC_HEAD_WEIGHT: w, CTC_HEAD_BIAS: b})
    metadata = dict(m.metadata)
    metadata["ctc_head"] = dict(metadata_extra or {})
    return write_model(dst_path, m.config, tensors, m.spm_bytes, metadata, m.feature_config)


# ----------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of ``qasr ctc-head``."""
    p = argparse.ArgumentParser(prog="qasr ctc-head", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True,
                   help=".qasr file whose (frozen) encoder the head is trained on (packed weights are dequantized "
                        "and Linear inputs quantized as the engine does)")
    p.add_argument("--train-manifest", default="data/corpus/manifests/train.jsonl")
    p.add_argument("--dev-manifest", default="data/corpus/manifests/dev.jsonl", help="'' for none")
    p.add_argument("--corpus-root", default=None, help="base of relative audio paths (default: manifest/../..)")
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training utterances (0 = all)")
    p.add_argument("--dev-limit", type=int, default=0, help="use only the first N dev utterances (0 = all)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (the bundled heads: 4 epochs at 1e-3)")
    p.add_argument("--batch-size", type=int, default=32, help="utterances per batch")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (encoding and training)")
    p.add_argument("--cache", default=None, help="encoder outputs file: written after encoding, reused if it exists")
    p.add_argument("--out", required=True, help="the .qasr file to write: --model plus the head")
    p.add_argument("--also", action="append", default=[], metavar="SRC=DST",
                   help="also add the head to SRC (e.g. a quantized sibling with the same tokenizer), writing DST")
    p.add_argument("--replace", action="store_true", help="overwrite an existing CTC head")
    return p


def _also_pairs(p: argparse.ArgumentParser, specs: Sequence[str]) -> List[Tuple[Path, Path]]:
    out = []
    for s in specs:
        src, sep, dst = s.partition("=")
        if not sep or not src or not dst:
            p.error(f"--also {s!r}: expected SRC=DST")
        out.append((Path(src), Path(dst)))
    return out


def _encoded(a: argparse.Namespace, model: VGGTransformer, encode_text: Callable[[str], List[int]],
             checksum: int) -> Tuple[List[EncodedUtterance], List[EncodedUtterance]]:
    """(train, dev) encoder outputs, from --cache when it holds the same model and selection."""
    from .data import read_manifest

    key = {"model_checksum": checksum, "train_manifest": str(Path(a.train_manifest).resolve()), "train_limit": a.train_limit,
           "dev_manifest": str(Path(a.dev_manifest).resolve()) if a.dev_manifest else "", "dev_limit": a.dev_limit}
    cache = Path(a.cache) if a.cache else None
    if cache and cache.exists():
        obj = torch.load(cache)
        if obj.get("format") != "qasr-ctc-head-cache" or obj.get("key") != key:
            raise SystemExit(f"error: --cache {cache} holds other encoder outputs ({obj.get('key')}); delete it or pass another file")
        print(f"ctc-head: encoder outputs from {cache}", flush=True)
        return ([EncodedUtterance(**r) for r in obj["train"]], [EncodedUtterance(**r) for r in obj["dev"]])
    train_utts = read_manifest(a.train_manifest, a.corpus_root, a.train_limit)
    dev_utts = read_manifest(a.dev_manifest, a.corpus_root, a.dev_limit) if a.dev_manifest else []
    t0 = time.time()
    train = encode_utterances(model, encode_text, train_utts, a.threads)
    dev = encode_utterances(model, encode_text, dev_utts, a.threads)
    print(f"ctc-head: encoded {len(train)} train + {len(dev)} dev utterances in {time.time() - t0:.0f}s", flush=True)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        torch.save({"format": "qasr-ctc-head-cache", "key": key, "train": [asdict(r) for r in train],
                    "dev": [asdict(r) for r in dev]}, tmp)
        tmp.replace(cache)
    return train, dev


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``qasr ctc-head``."""
    from .export.load import load_fp32_model, spm_file
    from .export.reader import read_model
    from .tokenizer import Tokenizer

    p = build_parser()
    a = p.parse_args(argv)
    also = _also_pairs(p, a.also)
    src = read_model(a.model)
    targets = [(Path(a.model), Path(a.out))] + also
    for s, _ in targets:
        m = src if s == Path(a.model) else read_model(s)
        if m.spm_bytes != src.spm_bytes or m.config.get("vocab_size") != src.config.get("vocab_size") or (
                m.config.get("enc_output_dim") != src.config.get("enc_output_dim")):
            p.error(f"{s}: tokenizer, vocabulary or encoder width differs from {a.model}'s")
        if not a.replace and CTC_HEAD_WEIGHT in m.tensors:
            p.error(f"{s} already has a CTC head (pass --replace to overwrite it)")
    torch.set_num_threads(a.threads)
    model, spm_bytes = load_fp32_model(a.model, dequantize=True)
    tmp = spm_file(spm_bytes)
    try:
        tok = Tokenizer(tmp)
    finally:
        tmp.unlink()
    vocab, dim = model.cfg.vocab_size, model.cfg.enc_output_dim
    if tok.vocab_size != vocab:
        p.error(f"{a.model}: tokenizer has {tok.vocab_size} pieces, the model {vocab} outputs")
    train, dev = _encoded(a, model, tok.encode, src.checksum)
    head = train_ctc_head(train, vocab, dim, a.epochs, a.lr, a.seed, dev_rows=dev, batch_size=a.batch_size)
    train_loss = ctc_loss_per_token(head, train, a.batch_size)
    dev_loss = ctc_loss_per_token(head, dev, a.batch_size) if dev else None
    meta = {
        "tool": "qasr ctc-head", "blank": vocab, "encoder": "frozen", "source_model": Path(a.model).name,
        "source_checksum": f"{src.checksum:08x}", "train_manifest": a.train_manifest, "train_utterances": len(train),
        "train_tokens": sum(len(r.ids) for r in train), "dev_manifest": a.dev_manifest or None, "dev_utterances": len(dev),
        "epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size, "seed": a.seed,
        "train_loss_per_token": round(train_loss, 5), "dev_loss_per_token": None if dev_loss is None else round(dev_loss, 5),
    }
    for s, d in targets:
        size = add_ctc_head(s, d, head, meta, replace=a.replace)
        print(f"wrote {d} ({size:,} bytes): {s} + CTC head", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

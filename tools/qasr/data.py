"""Training data: manifests, feature cache, SpecAugment, frame-bucketed batches, collation.

Manifest lines (data/corpus/manifests/*.jsonl, see docs/CORPUS.md): ``{"id", "audio" (wav path
relative to the corpus root), "text", "duration", ...}``.  Features are computed by
:mod:`qasr.features` (the single owner) and cached in memory as fp16, optionally persisted
to a ``.pt`` file so that a resumed run does not recompute them.
"""
from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .features import compute_features, load_audio
from .model import EOS_ID, PAD_ID


@dataclass
class Utterance:
    """One manifest entry with resolved audio path."""

    uid: str
    audio: Path
    text: str
    duration: float


def read_manifest(path: Union[str, Path], root: Optional[Union[str, Path]] = None, limit: int = 0) -> List[Utterance]:
    """Reads a JSONL manifest; audio paths are resolved against ``root`` (default: the
    manifest's grand-parent directory, i.e. data/corpus).  Incomplete trailing lines are skipped."""
    path = Path(path)
    base = Path(root) if root else path.parent.parent
    out: List[Utterance] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                d = json.loads(line)
            except json.JSONDecodeError:
                continue
            audio = Path(d["audio"])
            out.append(Utterance(str(d["id"]), audio if audio.is_absolute() else base / audio, d["text"], float(d.get("duration", 0.0))))
            if limit and len(out) >= limit:
                break
    return out


def estimate_frames(duration_s: float) -> int:
    """fairseq's frame estimate int(1 + (ms − 25) / 10)."""
    return max(1, int(1 + (duration_s * 1000 - 25) / 10))


class FeatureCache:
    """Features (fp16, CMVN applied, no dither) of a list of utterances, computed once."""

    def __init__(self, utts: Sequence[Utterance], cache_file: Optional[Union[str, Path]] = None, log_every: int = 2000) -> None:
        self.utts = list(utts)
        self.feats: Dict[str, Tensor] = {}
        cf = Path(cache_file) if cache_file else None
        if cf and cf.exists():
            self.feats = torch.load(cf)
        self.cache_file = cf
        self.log_every = log_every
        self.add(self.utts, save=True)

    def add(self, utts: Sequence[Utterance], save: bool = True) -> List[Utterance]:
        """Computes features of utterances not cached yet; returns the usable ones
        (unreadable or too short audio is skipped with a message)."""
        missing = [u for u in utts if u.uid not in self.feats]
        for i, u in enumerate(missing):
            try:
                f = compute_features(load_audio(u.audio))
            except Exception as e:  # noqa: BLE001 - a corrupt file must not stop training
                print(f"features: skipping {u.uid}: {e}", flush=True)
                continue
            if f.size(0) >= 8:
                self.feats[u.uid] = f.to(torch.float16)
            if self.log_every and (i + 1) % self.log_every == 0:
                print(f"features: {i + 1}/{len(missing)}", flush=True)
                if save:
                    self.save()  # progress survives an interruption
        if missing and save:
            self.save()
        return [u for u in utts if u.uid in self.feats]

    def save(self) -> None:
        """Atomically writes all cached features to the cache file (if any)."""
        if self.cache_file:
            tmp = self.cache_file.with_suffix(".pt.tmp")
            torch.save(self.feats, tmp)
            os.replace(tmp, self.cache_file)

    def __getitem__(self, uid: str) -> Tensor:
        return self.feats[uid].float()

    def frames(self, uid: str) -> int:
        """Number of frames of an utterance."""
        return int(self.feats[uid].size(0))


@dataclass
class SpecAugment:
    """LibriSpeech-"LD"-style masking on CMVN'd features (mask value 0 = utterance mean)."""

    freq_masks: int = 2
    freq_width: int = 15
    time_masks: int = 2
    time_width: int = 40
    time_ratio: float = 0.1  # a time mask covers at most this fraction of the utterance

    def __call__(self, x: Tensor, gen: random.Random) -> Tensor:
        x = x.clone()
        t, f = x.shape
        for _ in range(self.freq_masks):
            w = gen.randint(0, self.freq_width)
            s = gen.randint(0, max(0, f - w))
            x[:, s : s + w] = 0.0
        tw_max = min(self.time_width, int(self.time_ratio * t))
        for _ in range(self.time_masks):
            w = gen.randint(0, max(0, tw_max))
            s = gen.randint(0, max(0, t - w))
            x[s : s + w, :] = 0.0
        return x


def make_batches(lengths: Sequence[int], max_frames: int, max_batch: int = 256) -> List[List[int]]:
    """Length-bucketed batches: indices sorted by length, each batch's padded size
    (count × longest) ≤ ``max_frames``.  Deterministic; shuffle the batch list per epoch."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: List[List[int]] = []
    cur: List[int] = []
    longest = 0
    for i in order:
        l = lengths[i]
        if cur and (max(longest, l) * (len(cur) + 1) > max_frames or len(cur) >= max_batch):
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, l)
    if cur:
        batches.append(cur)
    return batches


def epoch_batches(batches: List[List[int]], epoch: int, seed: int, rank: int = 0, world: int = 1) -> List[List[int]]:
    """The shuffled batch order of one epoch (same on every rank), sharded round-robin."""
    order = list(range(len(batches)))
    random.Random(seed * 100003 + epoch).shuffle(order)
    usable = len(order) - len(order) % world  # equal number of steps on every rank
    return [batches[j] for j in order[rank:usable:world]]


@dataclass
class Batch:
    """Collated batch: features (B, T, 80), lengths, prev tokens / targets (B, U), padded."""

    feats: Tensor
    lengths: Tensor
    prev_tokens: Tensor
    targets: Tensor
    target_lengths: Tensor
    ntokens: int
    uids: List[str]


def collate(feats: Sequence[Tensor], token_ids: Sequence[Sequence[int]], uids: Sequence[str]) -> Batch:
    """Pads features with 0.0 and tokens with PAD; targets = ids + EOS, prev = EOS + ids."""
    lengths = torch.tensor([f.size(0) for f in feats], dtype=torch.long)
    x = torch.zeros(len(feats), int(lengths.max()), feats[0].size(1))
    for i, f in enumerate(feats):
        x[i, : f.size(0)] = f
    u = max(len(t) for t in token_ids) + 1
    prev = torch.full((len(feats), u), PAD_ID, dtype=torch.long)
    tgt = torch.full((len(feats), u), PAD_ID, dtype=torch.long)
    for i, t in enumerate(token_ids):
        ids = torch.tensor(list(t), dtype=torch.long)
        prev[i, 0] = EOS_ID
        prev[i, 1 : len(t) + 1] = ids
        tgt[i, : len(t)] = ids
        tgt[i, len(t)] = EOS_ID
    tlen = torch.tensor([len(t) for t in token_ids], dtype=torch.long)
    return Batch(x, lengths, prev, tgt, tlen, int(tlen.sum()) + len(feats), list(uids))


def iterate_eval(
    utts: Sequence[Utterance], cache: FeatureCache, max_frames: int
) -> Iterator[Tuple[List[Utterance], Tensor, Tensor]]:
    """Length-bucketed evaluation batches: (utterances, feats, lengths)."""
    lens = [cache.frames(u.uid) for u in utts]
    for b in make_batches(lens, max_frames):
        fs = [cache[utts[i].uid] for i in b]
        lengths = torch.tensor([f.size(0) for f in fs])
        x = torch.zeros(len(fs), int(lengths.max()), fs[0].size(1))
        for j, f in enumerate(fs):
            x[j, : f.size(0)] = f
        yield [utts[i] for i in b], x, lengths


def num_batches_hint(total_frames: int, max_frames: int) -> int:
    """Rough number of batches per epoch (for logging)."""
    return max(1, math.ceil(total_frames / max_frames))

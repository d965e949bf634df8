"""Build the synthetic English speech corpus.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.corpus --out data/corpus --seed 1 --jobs 2 --train-utts 20000

Pipeline: text sources -> normalised, deduplicated sentences -> disjoint
sentence blocks per split -> a per-utterance plan (engine, voice, prosody,
augmentation; all drawn from ``default_rng([seed, split, index])``, so the plan
for N utterances is a prefix of the plan for M > N) -> parallel synthesis and
augmentation -> manifests and summary.  Resumable: utterances whose wav exists
are skipped.  Manifests are rewritten periodically while the build runs, so a
partial corpus is usable early.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from . import augment, text, voices
from .synth import SynthError, SynthRequest, synthesize, wav_duration, write_wav

log = logging.getLogger("qasr.corpus")

SPLITS: tuple[str, ...] = ("train", "dev", "test_seen_voice", "test_unseen_voice")
_SPLIT_CODE = {"train": 0, "dev": 1, "test_seen_voice": 2, "test_unseen_voice": 3, "babble": 9}
BABBLE_SENTENCES = 150


@dataclass
class Utt:
    """One planned utterance (plus an optional noisy copy for dev/test)."""

    uid: str
    split: str
    index: int
    transcript: str
    tts_text: str
    source: str
    engine: str
    voice: str
    prosody: dict[str, float]
    aug: dict[str, Any]
    noisy_aug: dict[str, Any] | None = None
    audio: str = ""
    noisy_audio: str = ""

    def request(self) -> SynthRequest:
        """The synthesis request for this utterance."""
        return SynthRequest(self.uid, self.engine, self.voice, self.tts_text, self.prosody)


@dataclass
class Sentences:
    """Disjoint sentence blocks per split, each a list of (normalised, source)."""

    blocks: dict[str, list[tuple[text.Normalised, str]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def load_sentences(seed: int, n_dev: int, n_test: int, bible_share: float, max_words: int) -> Sentences:
    """Read, normalise and dedup the text sources and cut them into disjoint blocks."""
    rng = np.random.default_rng([seed, 1000])
    fortunes = text.dedup(text.sentences_from(text.fortune_texts(), max_words=max_words))
    try:
        bible = text.dedup(text.sentences_from(text.bible_texts(), max_words=max_words))
    except (OSError, subprocess.SubprocessError) as e:  # bible-kjv missing is not fatal
        log.warning("KJV bible text unavailable (%s): using fortunes only", e)
        bible = []
    seen = {n.transcript for n in fortunes}
    bible = [n for n in bible if n.transcript not in seen]
    rng.shuffle(fortunes)  # type: ignore[arg-type]
    rng.shuffle(bible)  # type: ignore[arg-type]
    n_bible = min(len(bible), int(round(len(fortunes) * bible_share / max(1e-9, 1.0 - bible_share))))
    pool: list[tuple[text.Normalised, str]] = [(n, "fortunes") for n in fortunes] + \
        [(n, "bible-kjv") for n in bible[:n_bible]]
    order = rng.permutation(len(pool))
    pool = [pool[i] for i in order]
    out = Sentences(counts={"fortunes_total": len(fortunes), "bible_total": len(bible), "bible_used": n_bible})
    pos = 0
    for name, n in (("dev", n_dev), ("test_seen_voice", n_test), ("test_unseen_voice", n_test)):
        out.blocks[name] = pool[pos:pos + n]
        pos += n
    n_babble = min(BABBLE_SENTENCES, (len(pool) - pos) // 4)  # tiny test builds keep most for train
    out.blocks["babble"] = pool[pos:pos + n_babble]
    pos += n_babble
    out.blocks["train"] = pool[pos:]
    return out


def parse_weights(spec: str) -> dict[str, float]:
    """Parse ``espeak-ng=1,flite=1,festival=1``."""
    weights = {e: 0.0 for e in voices.ENGINES}
    for part in spec.split(","):
        k, _, v = part.partition("=")
        if k.strip() not in weights:
            raise ValueError(f"unknown engine {k!r}")
        weights[k.strip()] = float(v)
    return weights


def plan_split(split: str, block: Sequence[tuple[text.Normalised, str]], n: int, seed: int,
               weights: dict[str, float], aug_frac: float, pools: voices.VoicePools) -> list[Utt]:
    """Plan ``n`` utterances of a split; utterance i depends only on (seed, split, i)."""
    engines = list(weights)
    p = np.array([weights[e] for e in engines], dtype=np.float64)
    p /= p.sum()
    unseen = split == "test_unseen_voice"
    eval_split = split != "train"
    utts: list[Utt] = []
    for i in range(n):
        rng = np.random.default_rng([seed, _SPLIT_CODE[split], i])
        sent, source = block[i % len(block)]
        engine = str(rng.choice(engines, p=p))
        voice = voices.sample_voice(rng, engine, unseen, pools)
        prosody = voices.sample_prosody(rng, engine, voice)
        noisy = (not eval_split) and rng.random() < aug_frac
        aug = augment.sample_spec(rng, noisy)
        noisy_aug = augment.sample_spec(rng, True) if eval_split else None
        uid = f"{split}-{i:06d}"
        utt = Utt(uid, split, i, sent.transcript, sent.tts_text, source, engine, voice, prosody, aug,
                  noisy_aug, audio=f"wav/{split}/{i // 1000:03d}/{uid}.wav")
        if noisy_aug is not None:
            utt.noisy_audio = f"wav/{split}_noisy/{i // 1000:03d}/{split}_noisy-{i:06d}.wav"
        utts.append(utt)
    return utts


# ----------------------------------------------------------------------------- workers

_BANK: list[np.ndarray] | None = None
_OUT: Path = Path(".")


def _init_worker(out: str) -> None:
    global _BANK, _OUT
    _OUT = Path(out)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    bank_path = _OUT / "babble_bank.npz"
    if bank_path.exists():
        with np.load(bank_path) as z:
            _BANK = [z[k] for k in sorted(z.files)]


def process_chunk(chunk: list[Utt]) -> list[dict[str, Any]]:
    """Synthesise, augment and write a chunk of utterances (runs in a worker)."""
    tmp = _OUT / "tmp" / str(os.getpid())
    t0 = time.perf_counter()
    audio = synthesize([u.request() for u in chunk], tmp)
    t_synth = (time.perf_counter() - t0) / max(1, len(chunk))
    results: list[dict[str, Any]] = []
    for u in chunk:
        a = audio.get(u.uid)
        res: dict[str, Any] = {"uid": u.uid, "engine": u.engine, "synth_s": t_synth}
        if a is None or isinstance(a, SynthError):
            res["error"] = str(a)
            results.append(res)
            continue
        t1 = time.perf_counter()
        try:
            write_wav(_OUT / u.audio, augment.apply(a, u.aug, _BANK))
            res["duration"] = wav_duration(_OUT / u.audio)
            if u.noisy_aug is not None:
                write_wav(_OUT / u.noisy_audio, augment.apply(a, u.noisy_aug, _BANK))
                res["noisy_duration"] = wav_duration(_OUT / u.noisy_audio)
        except (FloatingPointError, ValueError, RuntimeError) as e:
            res["error"] = f"augment: {e}"
        res["aug_s"] = time.perf_counter() - t1
        res["audio_s"] = len(a) / 16000.0
        results.append(res)
    return results


def build_babble_bank(out: Path, block: Sequence[tuple[text.Normalised, str]], seed: int,
                      pools: voices.VoicePools) -> None:
    """Synthesise a bank of clean utterances (seen espeak-ng/flite voices) used as babble noise."""
    path = out / "babble_bank.npz"
    if path.exists():
        return
    reqs: list[SynthRequest] = []
    for i, (sent, _) in enumerate(block):
        rng = np.random.default_rng([seed, _SPLIT_CODE["babble"], i])
        engine = "espeak-ng" if i % 2 == 0 else "flite"
        voice = voices.sample_voice(rng, engine, False, pools)
        reqs.append(SynthRequest(f"babble-{i:04d}", engine, voice, sent.tts_text,
                                 voices.sample_prosody(rng, engine, voice)))
    audio = synthesize(reqs, out / "tmp" / "babble")
    arrays = {k: augment.set_peak(v, -3.0) for k, v in sorted(audio.items()) if isinstance(v, np.ndarray)}
    np.savez(path.with_suffix(".tmp.npz"), **arrays)
    path.with_suffix(".tmp.npz").replace(path)
    log.info("babble bank: %d utterances, %.1f s", len(arrays), sum(len(v) for v in arrays.values()) / 16000)


# ----------------------------------------------------------------------------- manifests

def manifest_rows(utts: Iterable[Utt], done: dict[str, dict[str, Any]], noisy: bool) -> Iterator[dict[str, Any]]:
    """Manifest rows for finished utterances, in plan order."""
    for u in utts:
        r = done.get(u.uid)
        if r is None or "error" in r:
            continue
        if noisy:
            if u.noisy_aug is None or "noisy_duration" not in r:
                continue
            yield {"id": f"{u.split}_noisy-{u.index:06d}", "audio": u.noisy_audio, "text": u.transcript,
                   "duration": round(r["noisy_duration"], 4), "engine": u.engine, "voice": u.voice,
                   "aug": augment.describe(u.noisy_aug), "source": u.source, "prosody": u.prosody}
        else:
            yield {"id": u.uid, "audio": u.audio, "text": u.transcript, "duration": round(r["duration"], 4),
                   "engine": u.engine, "voice": u.voice, "aug": augment.describe(u.aug),
                   "source": u.source, "prosody": u.prosody}


def write_manifests(out: Path, plan: dict[str, list[Utt]], done: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """(Re)write all manifests atomically; returns the rows per manifest name."""
    mdir = out / "manifests"
    mdir.mkdir(parents=True, exist_ok=True)
    all_rows: dict[str, list[dict[str, Any]]] = {}
    for split, utts in plan.items():
        for noisy in (False, True):
            if noisy and split == "train":
                continue
            name = split + ("_noisy" if noisy else "")
            rows = list(manifest_rows(utts, done, noisy))
            all_rows[name] = rows
            tmp = mdir / f"{name}.jsonl.tmp"
            with tmp.open("w") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=True) + "\n")
            tmp.replace(mdir / f"{name}.jsonl")
    return all_rows


def _voice_key(engine: str, voice: str) -> list[str]:
    if engine != "espeak-ng":
        return [f"{engine}/{voice}"]
    accent, _, variant = voice.partition("+")
    return [f"espeak-ng/accent:{accent}", f"espeak-ng/variant:{variant or '(base)'}"]


def summarise(rows: dict[str, list[dict[str, Any]]], extra: dict[str, Any]) -> dict[str, Any]:
    """Hours per split / engine / voice / source and augmentation share."""
    summary: dict[str, Any] = {"splits": {}, **extra}
    for name, rs in rows.items():
        eng: dict[str, float] = defaultdict(float)
        vox: dict[str, float] = defaultdict(float)
        src: dict[str, float] = defaultdict(float)
        for r in rs:
            eng[r["engine"]] += r["duration"] / 3600
            src[r["source"]] += r["duration"] / 3600
            for k in _voice_key(r["engine"], r["voice"]):
                vox[k] += r["duration"] / 3600
        summary["splits"][name] = {
            "utterances": len(rs),
            "hours": round(sum(r["duration"] for r in rs) / 3600, 3),
            "mean_duration_s": round(float(np.mean([r["duration"] for r in rs])) if rs else 0.0, 2),
            "max_duration_s": round(max((r["duration"] for r in rs), default=0.0), 2),
            "augmented_fraction": round(sum(r["aug"] != "clean" for r in rs) / max(1, len(rs)), 3),
            "hours_per_engine": {k: round(v, 3) for k, v in sorted(eng.items())},
            "hours_per_source": {k: round(v, 3) for k, v in sorted(src.items())},
            "hours_per_voice": {k: round(v, 4) for k, v in sorted(vox.items())},
        }
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    """Human-readable Markdown tables of the summary."""
    splits = summary["splits"]
    names = list(splits)
    lines = ["| split | utts | hours | mean s | max s | aug frac | " + " | ".join(voices.ENGINES) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(voices.ENGINES)]
    for n in names:
        s = splits[n]
        lines.append(f"| {n} | {s['utterances']} | {s['hours']:.2f} | {s['mean_duration_s']:.2f} | "
                     f"{s['max_duration_s']:.1f} | {s['augmented_fraction']:.2f} | "
                     + " | ".join(f"{s['hours_per_engine'].get(e, 0.0):.2f}" for e in voices.ENGINES) + " |")
    lines += ["", "Hours per voice (espeak-ng counted once per accent and once per variant):", "",
              "| voice | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    keys = sorted({k for s in splits.values() for k in s["hours_per_voice"]})
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{splits[n]['hours_per_voice'].get(k, 0.0):.3f}" for n in names) + " |")
    lines += ["", "Hours per text source:", "", "| source | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for src in ("fortunes", "bible-kjv"):
        lines.append(f"| {src} | " + " | ".join(f"{splits[n]['hours_per_source'].get(src, 0.0):.2f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main

def chunks_for(utts: Sequence[Utt], window: int) -> Iterator[list[Utt]]:
    """Group consecutive utterances into work units: per window, festival ones form a single batch."""
    for start in range(0, len(utts), window):
        win = utts[start:start + window]
        fest = [u for u in win if u.engine == "festival"]
        rest = [u for u in win if u.engine != "festival"]
        for c in (fest, rest):
            if c:
                yield c


def make_plan(args: argparse.Namespace, sents: Sentences, pools: voices.VoicePools) -> dict[str, list[Utt]]:
    """Plan every split."""
    weights = parse_weights(args.engine_weights)
    sizes = {"train": args.train_utts, "dev": args.dev_utts, "test_seen_voice": args.test_utts,
             "test_unseen_voice": args.test_utts}
    plan = {}
    for split in SPLITS:
        block = sents.blocks[split]
        n = min(sizes[split], len(block)) if split != "train" else sizes[split]
        plan[split] = plan_split(split, block, n, args.seed, weights, args.aug_frac if split == "train" else 0.0, pools)
    return plan


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Build (or resume) the corpus described by ``args``; returns the summary."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    pools = voices.voice_pools()
    sents = load_sentences(args.seed, args.dev_utts, args.test_utts, args.bible_share, args.max_words)
    log.info("sentences: %s; blocks %s", sents.counts, {k: len(v) for k, v in sents.blocks.items()})
    (out / "text").mkdir(exist_ok=True)
    for split in SPLITS:
        with (out / "text" / f"{split}.txt").open("w") as f:
            for sent, _ in sents.blocks[split]:
                f.write(sent.transcript + "\n")
    plan = make_plan(args, sents, pools)
    build_babble_bank(out, sents.blocks["babble"], args.seed, pools)

    done: dict[str, dict[str, Any]] = {}
    todo: list[Utt] = []
    order = [u for s in ("dev", "test_seen_voice", "test_unseen_voice", "train") for u in plan[s]]
    for u in order:
        p = out / u.audio
        pn = out / u.noisy_audio if u.noisy_audio else None
        if p.exists() and (pn is None or pn.exists()):
            r: dict[str, Any] = {"uid": u.uid, "duration": wav_duration(p)}
            if pn is not None:
                r["noisy_duration"] = wav_duration(pn)
            done[u.uid] = r
        else:
            todo.append(u)
    log.info("plan: %s utterances, %d already done, %d to do",
             {k: len(v) for k, v in plan.items()}, len(done), len(todo))
    extra = {"seed": args.seed, "sentence_counts": sents.counts,
             "heldout_voices": {"espeak-ng accents": sorted(voices.ESPEAK_HELDOUT_ACCENTS),
                                "espeak-ng variants": sorted(voices.ESPEAK_HELDOUT_VARIANTS),
                                "flite": sorted(voices.FLITE_HELDOUT), "festival": sorted(voices.FESTIVAL_HELDOUT)}}
    write_manifests(out, plan, done)

    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    n_new = n_err = 0
    last_manifest = 0
    t0 = time.time()
    work = list(chunks_for(todo, args.window))
    if args.jobs > 1:
        pool = mp.get_context("fork").Pool(args.jobs, initializer=_init_worker, initargs=(str(out),))
        results: Iterator[list[dict[str, Any]]] = pool.imap(process_chunk, work)
    else:
        _init_worker(str(out))
        pool = None
        results = map(process_chunk, work)
    try:
        for k, chunk_res in enumerate(results, 1):
            for r in chunk_res:
                st = stats[r["engine"]]
                st["n"] += 1
                st["synth_s"] += r["synth_s"]
                st["aug_s"] += r.get("aug_s", 0.0)
                st["audio_s"] += r.get("audio_s", 0.0)
                if "error" in r:
                    n_err += 1
                    log.warning("failed %s: %s", r["uid"], r["error"][:300])
                    continue
                done[r["uid"]] = r
                n_new += 1
            if k % args.log_every == 0 or k == len(work):
                el = time.time() - t0
                rate = n_new / max(el, 1e-9)
                log.info("progress %d/%d new utts (%d errors), %.1f utt/s, elapsed %.0f s, ETA %.0f s | %s",
                         n_new, len(todo), n_err, rate, el, (len(todo) - n_new - n_err) / max(rate, 1e-9),
                         "; ".join(f"{e}: {s['n']:.0f} utts, synth {s['synth_s'] / max(s['n'], 1):.3f} s/utt, "
                                   f"aug {s['aug_s'] / max(s['n'], 1):.3f} s/utt, "
                                   f"RTF {(s['synth_s'] + s['aug_s']) / max(s['audio_s'], 1e-9):.4f}"
                                   for e, s in sorted(stats.items())))
            if n_new - last_manifest >= args.manifest_every:
                last_manifest = n_new
                write_manifests(out, plan, done)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    rows = write_manifests(out, plan, done)
    extra["throughput"] = {e: {"utts": int(s["n"]), "cpu_s_per_utt_synth": round(s["synth_s"] / max(s["n"], 1), 4),
                               "cpu_s_per_utt_aug": round(s["aug_s"] / max(s["n"], 1), 4),
                               "audio_s_per_utt": round(s["audio_s"] / max(s["n"], 1), 3)}
                           for e, s in stats.items()}
    extra["build_wall_s"] = round(time.time() - t_start, 1)
    extra["errors"] = n_err
    summary = summarise(rows, extra)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(summary_text(summary))
    log.info("done: %d new, %d errors, %.0f s\n%s", n_new, n_err, time.time() - t_start, summary_text(summary))
    return summary


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line interface."""
    ap = argparse.ArgumentParser(prog="python3 -m qasr.corpus", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/corpus", help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--train-utts", type=int, default=20000)
    ap.add_argument("--dev-utts", type=int, default=400)
    ap.add_argument("--test-utts", type=int, default=400, help="per test split")
    ap.add_argument("--aug-frac", type=float, default=0.7, help="fraction of train utterances augmented")
    ap.add_argument("--bible-share", type=float, default=0.25, help="max share of KJV sentences in the pool")
    ap.add_argument("--max-words", type=int, default=20)
    ap.add_argument("--engine-weights", default="espeak-ng=1,flite=1,festival=1",
                    help="relative share of utterances per engine")
    ap.add_argument("--window", type=int, default=24, help="utterances per work unit")
    ap.add_argument("--log-every", type=int, default=25, help="log progress every N work units")
    ap.add_argument("--manifest-every", type=int, default=1000, help="rewrite manifests every N new utterances")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args)


if __name__ == "__main__":
    main()

"""Tests for qasr.corpus planning, splits and a tiny end-to-end build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from qasr.corpus import build, text, voices

_WORDS = ("apple river stone cloud bright quiet garden window paper simple yellow market "
          "silver winter orange pocket little candle doctor morning").split()


def _fake_sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(_WORDS, size=int(rng.integers(3, 7)))).capitalize() + "." for _ in range(n)]


@pytest.fixture
def fake_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the Debian text packages with a small synthetic set."""
    def fortunes() -> Iterator[str]:
        yield from _fake_sentences(60, 1)

    def bible() -> Iterator[str]:
        yield from _fake_sentences(20, 2)

    monkeypatch.setattr(text, "fortune_texts", fortunes)
    monkeypatch.setattr(text, "bible_texts", bible)


def _args(out: Path, **kw: Any) -> Any:
    argv = ["--out", str(out), "--seed", "3", "--jobs", "1", "--train-utts", "6", "--dev-utts", "3",
            "--test-utts", "3", "--log-every", "1"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return build.parse_args(argv)


def test_sentence_blocks_disjoint(fake_sources: None) -> None:
    s = build.load_sentences(seed=3, n_dev=5, n_test=5, bible_share=0.25, max_words=20)
    sets = {k: {n.transcript for n, _ in v} for k, v in s.blocks.items()}
    names = list(sets)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not sets[a] & sets[b], (a, b)
    sources = [src for _, src in s.blocks["train"]]
    assert sources.count("bible-kjv") <= 0.3 * len(sources) + 1


def test_plan_deterministic_prefix_and_voices(fake_sources: None) -> None:
    s = build.load_sentences(seed=3, n_dev=5, n_test=5, bible_share=0.25, max_words=20)
    pools = voices.voice_pools()
    w = build.parse_weights("espeak-ng=1,flite=1,festival=1")
    small = build.plan_split("train", s.blocks["train"], 20, 3, w, 0.7, pools)
    big = build.plan_split("train", s.blocks["train"], 60, 3, w, 0.7, pools)
    assert [u.__dict__ for u in small] == [u.__dict__ for u in big[:20]]
    assert not any(voices.is_heldout(u.engine, u.voice) for u in big)
    unseen = build.plan_split("test_unseen_voice", s.blocks["test_unseen_voice"], 40, 3, w, 0.0, pools)
    assert all(voices.is_heldout(u.engine, u.voice) for u in unseen)
    assert all(u.aug.keys() == {"seed", "peak_db"} and u.noisy_aug for u in unseen)
    other = build.plan_split("train", s.blocks["train"], 20, 4, w, 0.7, pools)
    assert [u.voice for u in other] != [u.voice for u in small]


def test_every_engine_has_seen_and_unseen_voices() -> None:
    p = voices.voice_pools()
    assert p.flite_seen and p.flite_unseen and p.festival_seen and p.festival_unseen
    assert p.espeak_accents_seen and p.espeak_accents_unseen
    assert p.espeak_variants_seen and p.espeak_variants_unseen
    assert not set(p.flite_seen) & set(p.flite_unseen)


_ENGINES_PRESENT = all(shutil.which(b) for b in ("espeak-ng", "flite", "festival", "sox"))


@pytest.mark.skipif(not _ENGINES_PRESENT, reason="TTS engines not installed")
def test_tiny_build(tmp_path: Path, fake_sources: None) -> None:
    summary = build.run(_args(tmp_path))
    man = {name: [json.loads(ln) for ln in (tmp_path / "manifests" / f"{name}.jsonl").open()]
           for name in build.SPLITS}
    assert len(man["train"]) == 6 and len(man["dev"]) == 3
    texts = {k: {r["text"] for r in v} for k, v in man.items()}
    for a in build.SPLITS:
        for b in build.SPLITS:
            if a < b:
                assert not texts[a] & texts[b], (a, b)
    for name, rows in man.items():
        for r in rows:
            assert set(r) >= {"id", "audio", "text", "duration", "engine", "voice", "aug"}
            wav = tmp_path / r["audio"]
            assert wav.exists() and r["duration"] > 0.3
            assert voices.is_heldout(r["engine"], r["voice"]) == (name == "test_unseen_voice")
            if name != "train":
                assert r["aug"] == "clean"
    noisy = [json.loads(ln) for ln in (tmp_path / "manifests" / "dev_noisy.jsonl").open()]
    assert len(noisy) == 3 and all(r["aug"] != "clean" for r in noisy)
    assert (tmp_path / "text" / "train.txt").read_text().strip()
    assert summary["splits"]["train"]["utterances"] == 6
    # resumable: a second run synthesises nothing and reproduces the manifests
    before = (tmp_path / "manifests" / "train.jsonl").read_text()
    again = build.run(_args(tmp_path))
    assert again["throughput"] == {}
    assert (tmp_path / "manifests" / "train.jsonl").read_text() == before

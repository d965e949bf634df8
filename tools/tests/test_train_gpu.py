"""Feature packs and the in-memory (accelerator) trainer, exercised on the CPU."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qasr.featpack import SCALE, read_pack, write_pack
from qasr.model import EOS_ID, PAD_ID
from qasr.train_gpu import DeviceData, lr_factor, main, model_from_npz, npz_meta, select_run, spec_augment


def _items(n: int, seed: int = 0):
    g = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = int(g.integers(20, 90))
        # smooth, speech-like: low-rank structure plus noise, roughly unit variance
        f = (g.normal(size=(t, 4)) @ g.normal(size=(4, 80)) / 2 + 0.3 * g.normal(size=(t, 80))).astype(np.float32)
        f = np.clip(f, -5.0, 5.0)  # CMVN'd speech stays within the pack's ±5.3σ range
        toks = [int(x) for x in g.integers(4, 20, size=int(g.integers(1, 6)))]
        out.append((f"u{i}", f, toks, " ".join(map(str, toks))))
    return out


@pytest.mark.parametrize("quality,bound", [(101, 0.5 / SCALE + 3e-3), (90, 0.15)])
def test_pack_round_trip(tmp_path: Path, quality: int, bound: float) -> None:
    items = _items(12)
    write_pack(tmp_path / "p", items, quality)
    utts, feats = read_pack(tmp_path / "p", workers=1)
    assert [u["id"] for u in utts] == [i[0] for i in items]
    assert [u["tokens"] for u in utts] == [i[2] for i in items]
    for (_, f, _, _), d in zip(items, feats):
        assert d.shape == f.shape and d.dtype == np.float16
        err = np.abs(d.astype(np.float32) - f)
        # lossless: the 8-bit grid's rounding plus fp16 storage; lossy: mean error stays small
        assert (err.max() if quality > 100 else err.mean()) <= bound


def test_pack_rejects_foreign_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps({"format": "other"}))
    (tmp_path / "x.bin").write_bytes(b"")
    with pytest.raises(ValueError):
        read_pack(tmp_path / "x")


def test_device_batch_targets_and_padding(tmp_path: Path) -> None:
    items = _items(6, seed=3)
    write_pack(tmp_path / "p", items, 101)
    data = DeviceData(tmp_path / "p", torch.device("cpu"), workers=1)
    idx = torch.tensor([4, 1, 2])
    b = data.batch(idx)
    for row, i in enumerate(idx.tolist()):
        _, f, toks, _ = items[i]
        t = f.shape[0]
        assert int(b["lengths"][row]) == t
        assert torch.allclose(b["feats"][row, :t], torch.from_numpy(f), atol=0.5 / SCALE + 3e-3)
        assert bool((b["feats"][row, t:] == 0).all())
        n = len(toks)
        assert b["tgt"][row, :n].tolist() == toks and int(b["tgt"][row, n]) == EOS_ID
        assert bool((b["tgt"][row, n + 1 :] == PAD_ID).all())
        assert int(b["prev"][row, 0]) == EOS_ID and b["prev"][row, 1 : n + 1].tolist() == toks


def test_spec_augment_masks_within_limits() -> None:
    torch.manual_seed(0)
    x = torch.ones(16, 200, 80)
    lens = torch.full((16,), 200)
    lens[0] = 50
    y = spec_augment(x, lens)
    zero = y == 0
    # frequency masks: at most 2 × 15 bins fully zeroed per utterance
    assert int(zero.all(dim=1).sum(dim=1).max()) <= 30
    # time masks: at most 2 × min(40, 10 % of length) frames fully zeroed
    full_t = zero.all(dim=2).sum(dim=1)
    assert int(full_t[0]) <= 10 and int(full_t[1:].max()) <= 40
    assert bool(zero.any()) and not bool(zero.all())


def test_lr_schedule_warms_up_then_decays() -> None:
    assert lr_factor(0, 0.0, 100, 0.02) == pytest.approx(0.01)
    assert lr_factor(99, 0.01, 100, 0.02) == pytest.approx(0.5 * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * 0.01))) * 2, rel=1e-6)
    assert lr_factor(5, 0.15, 10_000, 0.02) < 1.0  # time-based warm-up ends at 15 %
    assert lr_factor(5, 0.16, 10_000, 0.02) == pytest.approx(0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * 0.16)))
    assert lr_factor(10**6, 1.0, 10, 0.02) == pytest.approx(0.02)


def test_tiny_fp32_run_writes_loadable_weights(tmp_path: Path) -> None:
    import sentencepiece as spm

    items = _items(16, seed=5)
    write_pack(tmp_path / "train", items, 101)
    write_pack(tmp_path / "dev", items[:4], 101)
    text = tmp_path / "t.txt"
    text.write_text("\n".join(i[3] for i in items) * 5)
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(tmp_path / "spm"), vocab_size=24, model_type="unigram", character_coverage=1.0,
        bos_id=0, pad_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False, minloglevel=2,
    )
    out = tmp_path / "run"
    main(["fp32", "--pack", str(tmp_path / "train"), "--dev-pack", str(tmp_path / "dev"), "--spm", str(tmp_path / "spm.model"),
          "--out", str(out), "--config", "tiny", "--vocab", "24", "--time-budget", "8", "--reserve", "4", "--device", "cpu",
          "--threads", "1", "--workers", "1", "--max-frames", "2000", "--warmup", "2", "--wer-utts", "2", "--log-every", "1"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] > 0 and np.isfinite(summary["final"]["dev_nll"])
    model = model_from_npz(out / "last.npz")
    assert model.cfg.vocab_size == 24 and npz_meta(out / "last.npz")["mode"] == "fp32"
    assert select_run([str(out), str(tmp_path / "missing")]) == str(out)
    # QAT from that teacher, then a second QAT run continuing from the first one's file.
    common = ["--pack", str(tmp_path / "train"), "--dev-pack", str(tmp_path / "dev"), "--spm", str(tmp_path / "spm.model"),
              "--teacher", str(out / "last.npz"), "--recipe", "w2g128_mix", "--stages", "2", "--time-budget", "8",
              "--reserve", "4", "--device", "cpu", "--threads", "1", "--workers", "1", "--max-frames", "2000",
              "--warmup", "2", "--wer-utts", "2", "--log-every", "1"]
    # q1 evaluates (and so checkpoints) every second; q2 continues from q1's final file.
    main(["qat", *common, "--out", str(tmp_path / "q1"), "--eval-every", "1"])
    assert npz_meta(tmp_path / "q1" / "qat_last.npz")["mode"] == "qat"
    assert npz_meta(tmp_path / "q1" / "qat_last.npz")["step"] > 0
    main(["qat", *common, "--out", str(tmp_path / "q2"), "--student-init", str(tmp_path / "q1" / "qat.npz")])
    first = json.loads((tmp_path / "q1" / "summary.json").read_text())
    again = json.loads((tmp_path / "q2" / "summary.json").read_text())
    assert again["bits"] == first["bits"] and max(first["bits"].values()) == 8
    # the continued run starts where the first one ended, not from a fresh quantization
    assert again["init"]["dev_nll"] == pytest.approx(first["final"]["dev_nll"], rel=1e-4)

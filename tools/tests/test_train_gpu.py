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


def _packs_and_spm(d: Path, items, dev: int, spm_name: str) -> None:
    """train/dev packs of ``items`` (the first ``dev`` are the dev set) and a 24-piece SentencePiece model in ``d``."""
    import sentencepiece as spm

    write_pack(d / "train", items, 101)
    write_pack(d / "dev", items[:dev], 101)
    text = d / "t.txt"
    text.write_text("\n".join(i[3] for i in items) * 5)
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(d / spm_name), vocab_size=24, model_type="unigram", character_coverage=1.0,
        bos_id=0, pad_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False, minloglevel=2,
    )


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
    _packs_and_spm(tmp_path, _items(16, seed=5), 4, "spm")
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


def test_gpu_train_script_qat_only(tmp_path: Path) -> None:
    """tools/gpu-train.sh with a given teacher: the 2-bit runs (MSE and PTQ start points) and
    the uniform w4/w3 runs all finish with loadable students (tiny model, CPU, seconds)."""
    import os
    import subprocess
    import sys

    from qasr.model import build_model
    from qasr.quant.__main__ import main as quant_main
    from qasr.train import export_weights
    from qasr.train_gpu import model_to_npz, qat_from_npz

    pack = tmp_path / "pack"
    pack.mkdir()
    _packs_and_spm(pack, _items(12, seed=7), 3, "spm500")
    torch.manual_seed(0)
    teacher = build_model("tiny", vocab_size=24).eval()
    model_to_npz(teacher, tmp_path / "teacher.npz", {"mode": "fp32"})
    export_weights(teacher, tmp_path / "teacher.pt", "spm500.model")
    quant_main(["ptq", "--model", str(tmp_path / "teacher.pt"), "--recipe", "w2g128_mix", "--method", "mse", "--threads", "1",
                "--out", str(tmp_path / "ptq"), "--qat-npz", str(tmp_path / "w2init.npz")])
    tools = Path(__file__).resolve().parents[1]
    # the device recipe end to end: stage here, then one call that unpacks, trains and returns
    staged = [pack / f"{n}" for n in ("train.bin", "train.json", "dev.bin", "dev.json", "spm500.model")]
    staged += [tmp_path / "teacher.npz", tmp_path / "w2init.npz"]
    r = subprocess.run(["bash", str(tools / "gpu-stage.sh"), str(tmp_path / "stage"), *map(str, staged)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    stash = tmp_path / "stash"
    ret = tmp_path / "returned"
    ret.mkdir()
    env = dict(os.environ, QASR_TEACHER=str(stash / "teacher.npz"), QASR_W2_INIT=str(stash / "w2init.npz"), MIN_QAT_SECONDS="5",
               EXPORT_SECONDS="2", QASR_COMMON_ARGS="--device cpu --workers 1 --threads 1 --max-frames 2000 --wer-utts 2 --log-every 1",
               QASR_QAT_ARGS="--reserve 3 --warmup 2", W2_FRAMES="2000", PYTHON=sys.executable, OUT=str(ret))
    r = subprocess.run(["bash", str(tools / "gpu-call.sh"), str(tmp_path / "stage" / "call1"), "24", str(stash)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = stash / "out"
    assert sorted(p.name for p in ret.iterdir()) == ["logs.tar.gz", "qat-w2mix-direct.qasr", "qat-w2mix-gptq.qasr", "qat-w3g64.qasr",
                                                     "qat-w4g64.qasr"]
    r.stdout = (stash / "out.log").read_text()
    assert "QAT only" in r.stdout and not (out / "A").exists()
    for run, bits in (("Q2d", 2), ("Q2g", 2), ("Q4", 4), ("Q3", 3)):
        summary = json.loads((out / run / "summary.json").read_text())
        assert summary["bits"]["encoder.transformer_layers.1.fc1"] == bits
        qat_from_npz(out / run / "qat.npz")
    assert "qat init (continued)" in (out / "Q2g.log").read_text()  # Q2g starts from the PTQ file
    from qasr.export.reader import read_model

    for name, bits in (("w2mix-direct", 2), ("w2mix-gptq", 2), ("w4g64", 4), ("w3g64", 3)):
        m = read_model(ret / f"qat-{name}.qasr")  # engine files, ready for `results table`
        assert m.metadata["results_row"] == f"qat-{name}" and m.metadata["method"] == "QAT"
        assert m.metadata["quantization"]["layers"]["encoder.transformer_layers.1.fc1"]["bits"] == bits
    assert "qat init (PTQ-MSE)" in (out / "Q2d.log").read_text()


def test_gpu_return_splits_large_files_and_keeps_to_the_limits(tmp_path: Path) -> None:
    import os
    import subprocess

    sizes = {"a.bin": 2500, "b.bin": 900, "c.bin": 3000, "d.bin": 100}
    for name, n in sizes.items():
        (tmp_path / name).write_bytes(os.urandom(n))
    tools = Path(__file__).resolve().parents[1]
    dest = tmp_path / "out"
    env = dict(os.environ, PART_BYTES="1000", MAX_FILES="5", MAX_BYTES="6000")
    r = subprocess.run(["bash", str(tools / "gpu-return.sh"), str(dest), *(str(tmp_path / n) for n in sizes), str(tmp_path / "nope")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    # a: 3 parts, b: 1 file; c (3 more parts) would make 7 files: left behind; d still fits
    assert sorted(p.name for p in dest.iterdir()) == ["a.bin.part00", "a.bin.part01", "a.bin.part02", "b.bin", "d.bin"]
    joined = b"".join((dest / f"a.bin.part0{i}").read_bytes() for i in range(3))
    assert joined == (tmp_path / "a.bin").read_bytes()
    assert "left on the device" in r.stderr and "c.bin" in r.stderr and "nope: missing" in r.stderr


def test_gpu_stage_round_trip(tmp_path: Path) -> None:
    import os
    import subprocess

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {src / "a.bin": os.urandom(2500), src / "sub" / "b.json": b'{"x": 1}', src / "c.npz": os.urandom(700)}
    for f, data in files.items():
        f.write_bytes(data)
    tool = str(Path(__file__).resolve().parents[1] / "gpu-stage.sh")
    env = dict(os.environ, PART_BYTES="4096")
    r = subprocess.run(["bash", tool, str(tmp_path / "stage"), *map(str, files)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    calls = sorted((tmp_path / "stage").glob("call*"))
    assert len(calls) >= 2  # a tar of > 4 KiB in 4 KiB parts
    stash = tmp_path / "stash"
    for i, c in enumerate(calls):
        r = subprocess.run(["bash", tool, "--unpack", str(c), str(stash)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert ("unpacked" in r.stdout) == (i == len(calls) - 1)
    assert sorted(p.name for p in stash.iterdir()) == ["a.bin", "b.json", "c.npz"]  # flat, parts removed
    for f, data in files.items():
        assert (stash / f.name).read_bytes() == data
    r = subprocess.run(["bash", tool, str(tmp_path / "s2"), str(tmp_path / "missing")], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "missing" in r.stderr


def test_featpack_features_command_matches_the_feature_cache(tmp_path: Path) -> None:
    import wave

    from qasr.featpack import main as featpack_main
    from qasr.features import compute_features, load_audio

    (tmp_path / "wav").mkdir()
    lines = []
    for i, (n, hz) in enumerate(((8000, 440.0), (12345, 1000.0), (100, 300.0))):  # the last is too short: skipped
        t = np.arange(n) / 16000.0
        pcm = (np.sin(2 * np.pi * hz * t) * 8000 + np.random.default_rng(i).normal(0, 300, n)).astype("<i2")
        with wave.open(str(tmp_path / "wav" / f"u{i}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm.tobytes())
        lines.append(json.dumps({"id": f"u{i}", "audio": f"wav/u{i}.wav", "text": "a b", "duration": n / 16000}))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "train.jsonl").write_text("\n".join(lines) + "\n")
    featpack_main(["features", "--manifest", str(tmp_path / "m" / "train.jsonl"), "--out", str(tmp_path / "f.pt"), "--jobs", "2"])
    feats = torch.load(tmp_path / "f.pt")
    assert sorted(feats) == ["u0", "u1"]
    for uid in feats:
        want = compute_features(load_audio(tmp_path / "wav" / f"{uid}.wav")).to(torch.float16)
        assert torch.equal(feats[uid], want)

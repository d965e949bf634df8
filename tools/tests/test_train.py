"""Training: a tiny model overfits 4 espeak-ng utterances; checkpoints resume exactly; DDP runs."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import torch

from qasr.train import CKPT_LAST, Trainer, build_parser, evaluate, export_weights, load_inference_model

SENTENCES = ["hello world", "open the door", "good morning", "stop now"]

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 espeak-ng utterances (22.05 kHz wavs, resampled by the loader), manifest and spm."""
    import sentencepiece as spm

    root = tmp_path_factory.mktemp("corpus")
    (root / "manifests").mkdir()
    (root / "wav").mkdir()
    lines: List[str] = []
    for i, text in enumerate(SENTENCES):
        wav = root / "wav" / f"u{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
        lines.append(json.dumps({"id": f"u{i}", "audio": f"wav/u{i}.wav", "text": text, "duration": 1.0}))
    (root / "manifests" / "train.jsonl").write_text("\n".join(lines) + "\n")
    (root / "text.txt").write_text("\n".join(SENTENCES * 20) + "\n")
    spm.SentencePieceTrainer.train(
        input=str(root / "text.txt"), model_prefix=str(root / "spm"), vocab_size=24, model_type="unigram",
        character_coverage=1.0, bos_id=0, pad_id=1, eos_id=2, unk_id=3, hard_vocab_limit=False, minloglevel=2,
    )
    return root


def _args(root: Path, out: Path, *extra: str):
    m = str(root / "manifests" / "train.jsonl")
    return build_parser().parse_args(
        ["--train-manifest", m, "--dev-manifest", m, "--spm", str(root / "spm.model"), "--config", "tiny",
         "--out", str(out), "--no-specaugment", "--threads", "1", "--log-every", "1000", "--eval-every-min", "1000",
         "--ctc-weight", "0.3", "--label-smoothing", "0.0", "--max-frames", "100000", "--warmup", "5", *extra]
    )


@needs_espeak
def test_tiny_model_overfits_to_zero_wer(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.set_num_threads(1)  # a second OpenMP thread only spins on this shared 2-core machine
    args = _args(tiny_corpus, tmp_path / "run", "--lr", "3e-3", "--max-steps", "150", "--min-lr-ratio", "0.3")
    tr = Trainer(args)
    from qasr.data import FeatureCache

    cache = FeatureCache(tr.dev_utts)
    for stop in (40, 60, 90, 120, 150):
        tr.args.stop_step = stop
        tr.run()
        w = evaluate(tr.model, tr.tok, tr.dev_utts, cache, beam=1)
        print(f"step {tr.step}: greedy WER {w:.1f}%")
        if w == 0.0:
            break
    assert w == 0.0, f"greedy WER {w} after {tr.step} steps"
    assert evaluate(tr.model, tr.tok, tr.dev_utts, cache, beam=4) == 0.0
    export_weights(tr.model, tmp_path / "m.pt", "spm.model")
    m2 = load_inference_model(tmp_path / "m.pt")
    assert evaluate(m2, tr.tok, tr.dev_utts, cache, beam=1) == 0.0
    from qasr.__main__ import main as cli

    cli(["transcribe", "--model-path", str(tmp_path / "m.pt"), "--spm", str(tiny_corpus / "spm.model"),
         "--threads", "1", "--beam", "3", str(tiny_corpus / "wav" / "u2.wav")])
    assert capsys.readouterr().out.strip().splitlines()[-1] == SENTENCES[2]


@needs_espeak
def test_checkpoint_resume_is_exact(tiny_corpus: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    ref = Trainer(_args(tiny_corpus, tmp_path / "a", "--stop-step", "4", "--max-frames", "300"))
    ref.run()
    part = Trainer(_args(tiny_corpus, tmp_path / "b", "--stop-step", "2", "--max-frames", "300"))
    part.run()
    assert (tmp_path / "b" / CKPT_LAST).exists()
    resumed = Trainer(_args(tiny_corpus, tmp_path / "b", "--stop-step", "4", "--max-frames", "300"))
    resumed.run()
    assert resumed.step == ref.step == 4
    assert (resumed.epoch, resumed.batch_in_epoch) == (ref.epoch, ref.batch_in_epoch)
    for (k, a), b in zip(ref.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k
    ck = torch.load(tmp_path / "b" / CKPT_LAST)
    assert set(ck) >= {"model", "ctc_head", "optimizer", "step", "rng", "epoch", "batch_in_epoch"}
    assert not any(k.startswith("ctc") for k in ck["model"])  # CTC head is training-only


@needs_espeak
def test_ddp_two_processes(tiny_corpus: Path, tmp_path: Path) -> None:
    m = str(tiny_corpus / "manifests" / "train.jsonl")
    cmd = [sys.executable, "-m", "qasr", "train", "--train-manifest", m, "--dev-manifest", "", "--spm",
           str(tiny_corpus / "spm.model"), "--config", "tiny", "--out", str(tmp_path / "ddp"), "--ddp", "2",
           "--stop-step", "2", "--max-frames", "300", "--threads", "2", "--log-every", "1"]
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "world=2" in r.stdout
    ck = torch.load(tmp_path / "ddp" / CKPT_LAST)
    assert ck["step"] == 2

"""CTC head and joint CTC/attention search: prefix scores against brute force, λ = 0 equals the
plain search, the head's add/load round trip and the command lines."""
from __future__ import annotations

import itertools
import json
import math
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import torch

from qasr.ctc_head import NEG, CtcPrefixScorer, add_ctc_head, ctc_log_probs, head_tensors, lae, train_ctc_head
from qasr.decode import BeamConfig, beam_search, joint_beam_search
from qasr.export import PackedTensor, read_model, write_model
from qasr.export.container import DEFAULT_FEATURE_CONFIG
from qasr.export.fp32 import folded_state_dict
from qasr.export.load import FormatError, load_ctc_head, load_fp32_model
from qasr.export.testdata import FAKE_SPM, tiny_tensors
from qasr.model import EOS_ID, build_model, encoder_lengths

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "models" / "samples"


def _log_softmax(a: np.ndarray) -> np.ndarray:
    return np.asarray(torch.log_softmax(torch.from_numpy(a), dim=-1).numpy(), dtype=np.float64)


def _brute_force(x: np.ndarray) -> Dict[Tuple[int, ...], float]:
    """Probability of every collapsed labelling, summed over all alignments (blank = last class)."""
    t_max, classes = x.shape
    blank = classes - 1
    out: Dict[Tuple[int, ...], float] = defaultdict(float)
    for align in itertools.product(range(classes), repeat=t_max):
        seq: List[int] = []
        prev = -1
        for a in align:
            if a != blank and a != prev:
                seq.append(a)
            prev = a
        out[tuple(seq)] += math.exp(sum(x[t, a] for t, a in enumerate(align)))
    return out


def test_lae_and_sentinel() -> None:
    a, b = np.array([0.0, -3.0, NEG, NEG]), np.array([0.0, -1.0, -2.0, NEG])
    np.testing.assert_allclose(lae(a, b)[:3], [math.log(2), math.log(math.exp(-3) + math.exp(-1)), -2.0], rtol=0, atol=1e-15)
    assert lae(a, b)[3] == NEG  # log 0 + log 0 stays the sentinel


@pytest.mark.parametrize("seed", range(6))
def test_prefix_scores_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t_max = [1, 2, 3, 4, 5, 5][seed]
    vocab = 3 if seed % 2 else 4  # classes 0..V-1, blank V; EOS (2) ends a hypothesis
    x = _log_softmax(rng.standard_normal((t_max, vocab + 1)) * 2.0)
    probs = _brute_force(x)
    assert abs(sum(probs.values()) - 1.0) < 1e-12
    scorer = CtcPrefixScorer(x)
    labels = [c for c in range(vocab) if c != EOS_ID]
    for n in range(0, 4):
        for g in itertools.product(labels, repeat=n):
            mass = sum(p for seq, p in probs.items() if seq[:n] == g)  # labellings starting with g
            if n:
                assert abs(math.exp(scorer.score(g)) - mass) < 1e-9, g
            full = probs.get(tuple(g), 0.0)  # exactly g
            assert abs(math.exp(scorer.score(list(g) + [EOS_ID])) - full) < 1e-9, g


def test_vectorised_extension_equals_one_by_one() -> None:
    rng = np.random.default_rng(7)
    x = _log_softmax(rng.standard_normal((9, 6)) * 3.0)
    scorer = CtcPrefixScorer(x)
    prefixes = [[], [4], [4, 4], [3, 1, 3]]
    rn, rb, last = [], [], []
    for g in prefixes:  # states of the prefixes, built token by token
        s_rn, s_rb = (a[:, None] for a in scorer.empty())
        prev = -1
        for c in g:
            _, s_rn, s_rb = scorer.extend(s_rn, s_rb, np.array([prev]), np.array([0]), np.array([c]))
            prev = c
        rn.append(s_rn[:, 0])
        rb.append(s_rb[:, 0])
        last.append(prev)
    rows = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3])
    toks = np.array([4, EOS_ID, 4, 1, 4, EOS_ID, 3, 0, EOS_ID])
    psi, _, _ = scorer.extend(np.stack(rn, 1), np.stack(rb, 1), np.array(last), rows, toks)
    for i, (r, c) in enumerate(zip(rows, toks)):
        assert abs(psi[i] - scorer.score(prefixes[r] + [int(c)])) < 1e-12


def _tiny(seed: int = 0, vocab: int = 40) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model("tiny", vocab).eval()


def _utterance(model: torch.nn.Module, frames: int, seed: int) -> Tuple[torch.Tensor, torch.Tensor, int]:
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(1, frames, 80, generator=g)
    lengths = torch.tensor([frames])
    return feats, lengths, int(encoder_lengths(lengths, model.cfg.vgg)[0])


@pytest.mark.parametrize("cfg", [
    BeamConfig(beam=4, nbest=4, max_len_b=8),
    BeamConfig(beam=3, nbest=3, max_len_b=12, len_pen=0.5, no_repeat_ngram_size=2),
    BeamConfig(beam=1, nbest=1, max_len_b=6, min_len=3),
    BeamConfig(beam=5, nbest=2, max_len_a=0.5, max_len_b=2, normalize_scores=False),
])
@pytest.mark.parametrize("eos_boost", [0.0, 1.0])  # 1.0: hypotheses also end before max_len
def test_joint_search_at_zero_weight_is_the_plain_search(cfg: BeamConfig, eos_boost: float) -> None:
    model = _tiny(1)
    with torch.no_grad():
        model.decoder.fc_out.bias[EOS_ID] += eos_boost
    for frames, seed in ((48, 0), (33, 1)):
        feats, lengths, t = _utterance(model, frames, seed)
        want = beam_search(model, feats, lengths, cfg)[0]
        enc, _ = model.encoder(feats, lengths)
        x = _log_softmax(np.random.default_rng(seed).standard_normal((t, 41)) * 3.0).astype(np.float32)
        max_len = max(1, int(cfg.max_len_a * t + cfg.max_len_b))
        got = joint_beam_search(model, enc, x, max_len, cfg)
        assert [(h.tokens, h.score, h.log_prob) for h in got] == [(h.tokens, h.score, h.log_prob) for h in want]


def test_joint_scores_and_batching() -> None:
    model = _tiny(2)
    head = torch.nn.Linear(model.cfg.enc_output_dim, 41)
    cfg = BeamConfig(beam=4, nbest=4, max_len_b=10, ctc_weight=0.4, len_pen=0.7)
    feats = torch.zeros(2, 48, 80)
    feats[0] = torch.randn(48, 80, generator=torch.Generator().manual_seed(0))
    feats[1, :33] = torch.randn(33, 80, generator=torch.Generator().manual_seed(1))
    lengths = torch.tensor([48, 33])
    batched = beam_search(model, feats, lengths, cfg, ctc_head=head)
    for i in range(2):
        n = int(lengths[i])
        alone = beam_search(model, feats[i : i + 1, :n], lengths[i : i + 1], cfg, ctc_head=head)[0]
        assert [(h.tokens, h.score) for h in alone] == [(h.tokens, h.score) for h in batched[i]]
        enc, _ = model.encoder(feats[i : i + 1, :n], lengths[i : i + 1])
        scorer = CtcPrefixScorer(ctc_log_probs(head, enc[0]))
        for h in batched[i]:
            assert h.ctc_log_prob is not None
            assert abs(h.ctc_log_prob - scorer.score(h.tokens + [EOS_ID])) < 1e-9
            joint = (1 - cfg.ctc_weight) * h.log_prob + cfg.ctc_weight * h.ctc_log_prob
            assert abs(h.score - joint / (len(h.tokens) + 1) ** cfg.len_pen) < 1e-9
    with pytest.raises(ValueError, match="CTC head"):
        beam_search(model, feats, lengths, cfg)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        beam_search(model, feats, lengths, BeamConfig(ctc_weight=1.0), ctc_head=head)


def test_joint_search_follows_a_confident_ctc() -> None:
    model = _tiny(3)
    feats, lengths, t = _utterance(model, 60, 3)
    target = [5, 5, 7, 11]  # a repeated label needs a blank between its two frames
    x = np.full((t, 41), -30.0)
    x[:, 40] = 0.0
    for i, c in enumerate(target):
        x[2 + 3 * i] = -30.0
        x[2 + 3 * i, c] = 0.0
    x = _log_softmax(x).astype(np.float32)
    cfg = BeamConfig(beam=4, max_len_b=12, ctc_weight=0.9, ctc_pre_beam=40)
    hyp = beam_search(model, feats, lengths, cfg, ctc_log_probs=[x])[0][0]
    assert hyp.tokens == target
    assert beam_search(model, feats, lengths, BeamConfig(beam=4, max_len_b=12))[0][0].tokens != target


def _head(vocab: int, dim: int, seed: int) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(dim, vocab + 1)


def _same_entries(a: Path, b: Path) -> None:
    """Everything but the CTC head and metadata["ctc_head"] is identical."""
    ma, mb = read_model(a), read_model(b)
    assert (ma.config, ma.feature_config, ma.spm_bytes) == (mb.config, mb.feature_config, mb.spm_bytes)
    assert ma.metadata == {k: v for k, v in mb.metadata.items() if k != "ctc_head"}
    assert [n for n in mb.tensors if not n.startswith("ctc_head.")] == list(ma.tensors)
    ea = {e.name: e for e in ma.entries}
    for e in mb.entries:
        if e.kind == "tensor" and not e.name.startswith("ctc_head."):
            assert (e.dtype, e.shape, e.group, e.nbytes) == (ea[e.name].dtype, ea[e.name].shape, ea[e.name].group, ea[e.name].nbytes)
    for name, t in ma.tensors.items():
        u = mb.tensors[name]
        if isinstance(t, PackedTensor):
            assert u == t
        else:
            assert u.dtype == t.dtype and u.shape == t.shape and u.tobytes() == t.tobytes()


def test_head_add_and_load_round_trip(tmp_path: Path) -> None:
    for mixed in (False, True):
        cfg, tensors, _ = tiny_tensors(mixed=mixed)
        src, dst = tmp_path / f"src{mixed}.qasr", tmp_path / f"dst{mixed}.qasr"
        write_model(src, cfg, tensors, FAKE_SPM, {"purpose": "test", "nested": {"ü": [1, 2.5]}}, DEFAULT_FEATURE_CONFIG)
        assert load_ctc_head(src) is None
        head = _head(40, 96, 0)
        add_ctc_head(src, dst, head, {"epochs": 2})
        _same_entries(src, dst)
        m = read_model(dst)
        assert m.metadata["ctc_head"] == {"epochs": 2}
        assert m.tensors["ctc_head.weight"].dtype == np.float32 and m.tensors["ctc_head.weight"].shape == (41, 96)
        assert m.tensors["ctc_head.bias"].shape == (41,)
        loaded = load_ctc_head(dst)
        assert loaded is not None
        assert torch.equal(loaded.weight, head.weight) and torch.equal(loaded.bias, head.bias)
        with pytest.raises(ValueError, match="already has a CTC head"):
            add_ctc_head(dst, dst, _head(40, 96, 1), {})
        add_ctc_head(dst, dst, _head(40, 96, 1), {"second": True}, replace=True)
        _same_entries(src, dst)
        again = load_ctc_head(dst)
        assert again is not None and torch.equal(again.weight, _head(40, 96, 1).weight)
        assert read_model(dst).metadata["ctc_head"] == {"second": True}
    with pytest.raises(ValueError, match=r"\[41, 96\]"):
        add_ctc_head(src, tmp_path / "bad.qasr", _head(39, 96, 0), {})


def test_fp32_model_with_head_loads_and_half_a_head_is_an_error(tmp_path: Path) -> None:
    model = _tiny(0)
    src, dst = tmp_path / "m.qasr", tmp_path / "h.qasr"
    write_model(src, model.cfg, folded_state_dict(model), FAKE_SPM, {}, DEFAULT_FEATURE_CONFIG)
    add_ctc_head(src, dst, _head(40, 96, 0), {})
    a, _ = load_fp32_model(src)
    b, _ = load_fp32_model(dst)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    half = dict(folded_state_dict(model))
    half["ctc_head.weight"] = head_tensors(_head(40, 96, 0))["ctc_head.weight"]
    write_model(tmp_path / "half.qasr", model.cfg, half, FAKE_SPM, {}, DEFAULT_FEATURE_CONFIG)
    with pytest.raises(FormatError, match="both"):
        load_ctc_head(tmp_path / "half.qasr")


def test_train_ctc_head_learns_a_toy_task() -> None:
    from qasr.ctc_head import EncodedUtterance, ctc_loss_per_token

    rng = np.random.default_rng(0)
    proto = rng.standard_normal((6, 8)).astype(np.float32) * 3  # class prototypes, 5 = blank
    rows = []
    for i in range(64):
        ids = [int(c) for c in rng.integers(3, 5, size=rng.integers(1, 4))]
        frames = [5]
        for c in ids:
            frames += [c, c, 5]
        enc = proto[frames] + 0.3 * rng.standard_normal((len(frames), 8)).astype(np.float32)
        rows.append(EncodedUtterance(f"u{i}", "", ids, torch.from_numpy(enc).half()))
    untrained = ctc_loss_per_token(_head(5, 8, 0), rows[48:])
    head = train_ctc_head(rows[:48], 5, 8, epochs=15, lr=3e-2, seed=0, dev_rows=rows[48:], batch_size=8, log=lambda s: None)
    assert head.weight.shape == (6, 8)
    assert ctc_loss_per_token(head, rows[48:]) < 0.3 * untrained


# ----------------------------------------------------------------------------- command lines


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, int]:
    """A real SentencePiece model over the sample transcripts (CLI tests need a tokenizer)."""
    from qasr.tokenizer import Tokenizer, train_sentencepiece

    d = tmp_path_factory.mktemp("spm")
    lines = [l.split("\t")[1] for l in (SAMPLES / "transcripts.tsv").read_text().splitlines() if "\t" in l]
    (d / "text.txt").write_text("\n".join(lines * 30) + "\n")
    path = train_sentencepiece(d / "text.txt", d / "spm", vocab_size=40)
    return path, Tokenizer(path).vocab_size


def _tiny_file(path: Path, spm: Path, vocab: int, head: bool) -> Path:
    model = _tiny(0, vocab)
    write_model(path, model.cfg, folded_state_dict(model), spm.read_bytes(), {"purpose": "cli test"}, DEFAULT_FEATURE_CONFIG)
    if head:
        add_ctc_head(path, path, _head(vocab, model.cfg.enc_output_dim, 0), {"test": True})
    return path


def test_cli_ctc_weight_errors(tmp_path: Path, spm_model: Tuple[Path, int], capsys: pytest.CaptureFixture) -> None:
    from qasr.__main__ import main as cli

    spm, vocab = spm_model
    plain = _tiny_file(tmp_path / "plain.qasr", spm, vocab, head=False)
    wav = str(sorted(SAMPLES.glob("*.wav"))[0])
    for cmd in (["transcribe", "--model-path", str(plain), "--ctc-weight", "0.3", wav],
                ["eval", "--model-path", str(plain), "--ctc-weight", "0.3", "--manifest", str(tmp_path / "none.jsonl")]):
        with pytest.raises(SystemExit) as e:
            cli(cmd)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "--ctc-weight 0.3 needs a model file with a CTC head" in err and "has none" in err, err
    with pytest.raises(SystemExit):
        cli(["transcribe", "--model-path", str(plain), "--ctc-weight", "1.0", wav])
    assert "--ctc-weight must be in [0, 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["transcribe", "--model-path", str(plain), "--ctc-pre-beam", "-1", wav])
    assert "--ctc-pre-beam must be >= 0" in capsys.readouterr().err


def test_cli_transcribe_with_a_head(tmp_path: Path, spm_model: Tuple[Path, int], capsys: pytest.CaptureFixture,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import qasr.decode
    from qasr.__main__ import main as cli

    spm, vocab = spm_model
    headed = _tiny_file(tmp_path / "headed.qasr", spm, vocab, head=True)
    seen: List[float] = []
    real = qasr.decode.beam_search

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        cfg = args[3] if len(args) > 3 else kwargs["cfg"]
        seen.append(cfg.ctc_weight)
        assert kwargs.get("ctc_head") is not None
        return real(*args, **kwargs)

    monkeypatch.setattr(qasr.decode, "beam_search", spy)
    wav = str(sorted(SAMPLES.glob("*.wav"))[0])
    args = ["transcribe", "--model-path", str(headed), "--beam", "2", "--max-len-b", "3", "--max-len-a", "0", wav]
    assert cli(args) == 0
    assert cli(args[:-1] + ["--ctc-weight", "0.6", "--ctc-pre-beam", "3", wav]) == 0
    assert seen == [0.5, 0.6]  # the default with a head is 0.5
    capsys.readouterr()


def test_cli_ctc_head_trains_and_writes(tmp_path: Path, spm_model: Tuple[Path, int], capsys: pytest.CaptureFixture) -> None:
    from qasr.__main__ import main as cli

    spm, vocab = spm_model
    model_path = _tiny_file(tmp_path / "m.qasr", spm, vocab, head=False)
    sibling = tmp_path / "sib.qasr"
    m = read_model(model_path)
    write_model(sibling, m.config, m.tensors, m.spm_bytes, {"purpose": "sibling"}, m.feature_config)
    corpus = tmp_path / "corpus"
    (corpus / "manifests").mkdir(parents=True)
    (corpus / "wav").mkdir()
    lines = []
    for i, row in enumerate(l.split("\t") for l in (SAMPLES / "transcripts.tsv").read_text().splitlines() if "\t" in l):
        shutil.copy(SAMPLES / row[0], corpus / "wav" / row[0])
        lines.append(json.dumps({"id": f"s{i}", "audio": f"wav/{row[0]}", "text": row[1]}))
    manifest = corpus / "manifests" / "train.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "enc.pt"
    args = ["ctc-head", "--model", str(model_path), "--train-manifest", str(manifest), "--dev-manifest", str(manifest),
            "--epochs", "2", "--cache", str(cache), "--out", str(tmp_path / "out.qasr"),
            "--also", f"{sibling}={tmp_path / 'sib-out.qasr'}"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "ctc-head epoch 2/2: train" in out and " dev " in out and cache.exists()
    _same_entries(model_path, tmp_path / "out.qasr")
    _same_entries(sibling, tmp_path / "sib-out.qasr")
    meta = read_model(tmp_path / "out.qasr").metadata["ctc_head"]
    assert meta["train_utterances"] == 3 and meta["epochs"] == 2 and meta["dev_loss_per_token"] > 0
    h1, h2 = load_ctc_head(tmp_path / "out.qasr"), load_ctc_head(tmp_path / "sib-out.qasr")
    assert h1 is not None and h2 is not None and torch.equal(h1.weight, h2.weight)
    assert cli(args[:-2] + ["--out", str(tmp_path / "again.qasr")]) == 0  # from the cache: the same head
    assert "encoder outputs from" in capsys.readouterr().out
    h3 = load_ctc_head(tmp_path / "again.qasr")
    assert h3 is not None and torch.equal(h1.weight, h3.weight)
    with pytest.raises(SystemExit):
        cli(["ctc-head", "--model", str(tmp_path / "out.qasr"), "--train-manifest", str(manifest), "--out", str(tmp_path / "x.qasr")])
    assert "already has a CTC head" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(args[:-2] + ["--out", str(tmp_path / "y.qasr"), "--also", "nonsense"])
    assert "expected SRC=DST" in capsys.readouterr().err


def test_engine_fixture_ctc_references(tmp_path: Path) -> None:
    from qasr.export.engine_fixture import CTC_WEIGHTS, VOCAB, make_engine_fixture

    torch_threads = torch.get_num_threads()
    try:
        make_engine_fixture(tmp_path)
    finally:
        torch.set_num_threads(torch_threads)
    head = load_ctc_head(tmp_path / "fp32.qasr")
    assert head is not None and head.weight.shape == (VOCAB + 1, 96)
    assert load_ctc_head(tmp_path / "w8.qasr") is None and load_ctc_head(tmp_path / "odd.qasr") is None
    joint = json.loads((tmp_path / "ctc_joint.json").read_text())
    assert joint["blank"] == VOCAB and [u["name"] for u in joint["utterances"]] == ["a", "b"]
    for u in joint["utterances"]:
        x = np.load(tmp_path / u["ctc_log_probs"])
        assert x.dtype == np.float32 and x.shape == (u["enc_frames"], VOCAB + 1)
        np.testing.assert_allclose(np.exp(x.astype(np.float64)).sum(1), 1.0, atol=1e-5)
    assert np.load(tmp_path / "fp32.ctc_logp_bpad.npy").shape == np.load(tmp_path / "fp32.ctc_logp_b.npy").shape
    assert sorted((s["utterance"], s["ctc_weight"]) for s in joint["searches"]) == [(u, w) for u in "ab" for w in CTC_WEIGHTS]
    for s in joint["searches"]:
        assert s["tokens"] and s["tokens"] == s["nbest"][0]["tokens"] and s["options"]["beam"] == 5
        assert s["options"]["ctc_pre_beam"] == 0 and s["min_margin"] > 2e-4  # robust to engine rounding (~1e-6)

    # Packed files load dequantized for qasr ctc-head (exact weights; Linear inputs quantized as the
    # engine does, convolutions' kept fp32): equal to the fake-quant reference with fp32 activations,
    # close to it with int8 ones, and far from the FP32 model either way.
    with pytest.raises(FormatError):
        load_fp32_model(tmp_path / "w2g32.qasr")
    plan = json.loads((tmp_path / "plan.json").read_text())
    feats = torch.from_numpy(np.load(tmp_path / "feats_a.npy"))[None, : plan["frames_a"]]
    fp32 = np.load(tmp_path / "fp32.enc_a.npy")
    for name, mean_limit in (("w4g64_f32act", 1e-5), ("w2g32", 0.03)):
        model, _ = load_fp32_model(tmp_path / f"{name}.qasr", dequantize=True)
        with torch.no_grad():
            enc = model.encoder(feats, torch.tensor([plan["frames_a"]]))[0][0].numpy()
        ref = np.load(tmp_path / f"{name}.enc_a.npy")
        assert np.abs(enc - ref).mean() < mean_limit, name
        assert np.abs(ref - fp32).mean() > 0.1, name

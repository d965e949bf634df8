"""Results table: scoring, paired bootstrap, row export metadata and the markdown."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from qasr.model import VGGTransformer, get_config
from qasr.quant.results import SetResult, export_rows, markdown, paired_bootstrap, row_info, score, summarise_above


def test_score_counts_word_errors_per_utterance() -> None:
    r = score(["a b c", "d e", "f"], ["a x c", "d e f", ""])
    assert r.errors == [1, 1, 1] and r.words == [3, 2, 1]
    assert math.isclose(r.wer, 50.0)


def test_bootstrap_interval_brackets_the_change_and_is_zero_for_identical_rows() -> None:
    rng = np.random.default_rng(0)
    words = rng.integers(3, 20, 300).tolist()
    base = SetResult([int(rng.integers(0, w + 1)) for w in words], words)
    same = SetResult(list(base.errors), words)
    assert paired_bootstrap(same, base, n=200) == (0.0, 0.0)
    worse = SetResult([e + (1 if i % 4 == 0 else 0) for i, e in enumerate(base.errors)], words)
    lo, hi = paired_bootstrap(worse, base, n=400)
    rel = 100.0 * (sum(worse.errors) - sum(base.errors)) / sum(base.errors)
    assert 0 < lo < rel < hi


def test_summarise_above_groups_layers() -> None:
    assert summarise_above([]) == "-"
    s = summarise_above(["decoder.fc_out", "encoder.conv_layers.0.layers.0", "encoder.conv_layers.1.layers.3"])
    assert s == "decoder.fc_out (1), encoder.conv_layers (2)"


def test_export_rows_writes_models_with_size_metadata(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VGGTransformer(get_config("tiny", 40)).eval()
    ckpt = tmp_path / "t.pt"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict()}, ckpt)
    spm = tmp_path / "spm.model"
    spm.write_bytes(b"not-a-real-spm")  # stored verbatim; the table never tokenizes
    paths = export_rows(ckpt, spm, tmp_path / "rows", ["rtn:w4g64", "mse:w2g32"], [])
    assert [p.name for p in paths] == ["fp32.qasr", "ptq-rtn-w4g64.qasr", "ptq-mse-w2g32.qasr"]
    infos = [row_info(p) for p in paths]
    assert infos[0]["bits_per_weight"] == 32.0 and infos[0]["above_2_bits"] == []
    assert 4.0 < infos[1]["bits_per_weight"] < infos[0]["bits_per_weight"]
    assert infos[2]["bits_per_weight"] < infos[1]["bits_per_weight"]
    assert "decoder.fc_out" in infos[2]["above_2_bits"]  # the recipe keeps it at 8 bits
    results = {"beam": 5, "sets": ["s"], "rows": [dict(i, sets={"s": {"wer": 10.0, "rel": 0.0}}) for i in infos]}
    md = markdown(results)
    assert md.count("\n") == 2 + len(infos) and "ptq-mse-w2g32" in md


@pytest.mark.parametrize("bad", ["nocolon", "rtn:"])
def test_export_rows_rejects_malformed_ptq_rows(tmp_path: Path, bad: str) -> None:
    torch.manual_seed(0)
    model = VGGTransformer(get_config("tiny", 40)).eval()
    ckpt = tmp_path / "t.pt"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict()}, ckpt)
    spm = tmp_path / "spm.model"
    spm.write_bytes(b"x")
    with pytest.raises((ValueError, KeyError, FileNotFoundError)):
        export_rows(ckpt, spm, tmp_path / "rows", [bad], [])

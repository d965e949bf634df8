"""Results table: scoring, paired bootstrap, row export metadata and the markdown."""
from __future__ import annotations

import json
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


def _tiny_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    """A random `tiny` model checkpoint and a placeholder SentencePiece file
    (stored verbatim in exports; the table never tokenizes)."""
    torch.manual_seed(0)
    model = VGGTransformer(get_config("tiny", 40)).eval()
    ckpt = tmp_path / "t.pt"
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict()}, ckpt)
    spm = tmp_path / "spm.model"
    spm.write_bytes(b"not-a-real-spm")
    return ckpt, spm


def test_export_rows_writes_models_with_size_metadata(tmp_path: Path) -> None:
    ckpt, spm = _tiny_checkpoint(tmp_path)
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


def test_export_rows_from_an_fp32_model_file(tmp_path: Path) -> None:
    from qasr.export.reader import read_model

    ckpt, spm = _tiny_checkpoint(tmp_path)
    first = export_rows(ckpt, spm, tmp_path / "a", ["rtn:w4g64"], [])
    again = export_rows(first[0], spm, tmp_path / "b", ["rtn:w4g64"], [])  # teacher = the fp32 row's .qasr
    for x, y in zip(first, again):
        a, b = read_model(x), read_model(y)
        assert a.metadata["results_row"] == b.metadata["results_row"]
        for name, t in a.tensors.items():
            u = b.tensors[name]
            if isinstance(t, np.ndarray):
                assert np.allclose(t, u, rtol=1e-6, atol=1e-7), name  # weight norm refolded: one rounding
            else:
                assert t.data == u.data, name


def test_export_rows_gptq_row_needs_and_uses_calibration(tmp_path: Path) -> None:
    from qasr.quant.io import random_calibration

    ckpt, spm = _tiny_checkpoint(tmp_path)
    with pytest.raises(ValueError, match="calibration"):
        export_rows(ckpt, spm, tmp_path / "rows", ["gptq:w4g64"], [])
    calls = []

    def calibrate(model: torch.nn.Module) -> None:
        calls.append(1)
        random_calibration(model)

    paths = export_rows(ckpt, spm, tmp_path / "rows", ["gptq:w4g64", "rtn:w4g64"], [], calibrate)
    assert [p.name for p in paths] == ["fp32.qasr", "ptq-gptq-w4g64.qasr", "ptq-rtn-w4g64.qasr"] and calls == [1]
    gptq_info, rtn_info = row_info(paths[1]), row_info(paths[2])
    assert gptq_info["method"] == "PTQ gptq" and gptq_info["bits_per_weight"] == rtn_info["bits_per_weight"]
    # GPTQ moves codes: the two files hold different weights for the same recipe
    assert gptq_info["checksum"] != rtn_info["checksum"]


@pytest.mark.parametrize("bad", ["nocolon", "rtn:"])
def test_export_rows_rejects_malformed_ptq_rows(tmp_path: Path, bad: str) -> None:
    ckpt, spm = _tiny_checkpoint(tmp_path)
    with pytest.raises((ValueError, KeyError, FileNotFoundError)):
        export_rows(ckpt, spm, tmp_path / "rows", [bad], [])


def test_table_caches_hypotheses_per_model_binary_beam_and_utterances(tmp_path: Path) -> None:
    from qasr.quant.results import build_table

    ckpt, spm = _tiny_checkpoint(tmp_path)
    rows = export_rows(ckpt, spm, tmp_path / "rows", ["rtn:w4g64"], [])
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "s.jsonl").write_text("".join(f'{{"id": "u{i}", "audio": "u{i}.wav", "text": "a b"}}\n' for i in range(3)))
    calls = tmp_path / "calls"
    fake = tmp_path / "asr-cli"  # writes "a b" for every file, logs each invocation
    fake.write_text(f'#!/bin/sh\necho run >> {calls}\nout=""\nprev=""\nfor a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n'
                    'for a in "$@"; do case "$a" in *.wav) echo "a b" > "$out/$(basename "$a" .wav).txt";; esac; done\n')
    fake.chmod(0o755)

    def run(beam: int, limit: int) -> None:
        build_table(fake, rows, "fp32", ["s"], tmp_path / "m", tmp_path, beam, 1, limit, tmp_path / "out")

    run(5, 0)
    assert calls.read_text().count("run") == 2  # one call per row
    run(5, 0)
    assert calls.read_text().count("run") == 2  # cached
    run(3, 0)
    run(3, 2)
    assert calls.read_text().count("run") == 6  # another beam, then another utterance list
    fake.write_text(fake.read_text() + "# rebuilt\n")
    run(3, 2)
    assert calls.read_text().count("run") == 8  # another decoder binary
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["sets"]["s"]["wer"] for r in res["rows"]] == [0.0, 0.0]
    with pytest.raises(SystemExit):
        build_table(tmp_path / "missing", rows, "fp32", ["s"], tmp_path / "m", tmp_path, 4, 1, 0, tmp_path / "out")
    with pytest.raises(SystemExit):
        build_table(fake, rows, "nope", ["s"], tmp_path / "m", tmp_path, 5, 1, 0, tmp_path / "out")

"""qasr.export: .qasr writer/reader round trip, validation, packing and the FP32 exporter."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qasr.export import DEFAULT_FEATURE_CONFIG, FormatError, PackedTensor, read_model, write_model
from qasr.export import spec
from qasr.export.reader import checksum
from qasr.export.testdata import FAKE_SPM, MIN_CONFIG, min_tensors, pack, quantize_minmax


def _write_min(path: Path) -> dict:
    tensors, _ = min_tensors()
    write_model(path, MIN_CONFIG, tensors, FAKE_SPM, {"wer": {"dev": 12.5}, "note": "ü"})
    return tensors


def _patch(data: bytes, at: int, value: bytes) -> bytes:
    """Overwrites bytes and re-seals the checksum."""
    out = bytearray(data)
    out[at:at + len(value)] = value
    out[spec.CHECKSUM_AT:spec.CHECKSUM_AT + 4] = checksum(bytes(out)).to_bytes(4, "little")
    return bytes(out)


def test_spec_struct_sizes() -> None:
    assert spec.HEADER_STRUCT.size == spec.HEADER_BYTES == 64
    assert spec.ENTRY_STRUCT.size == spec.ENTRY_BYTES == 64
    assert spec.MAGIC == b"QASRMODL" and len(set(spec.DTYPES.values())) == len(spec.DTYPES)


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.qasr"
    tensors = _write_min(path)
    m = read_model(path)
    assert m.version == (spec.VERSION_MAJOR, spec.VERSION_MINOR)
    assert m.config == MIN_CONFIG and m.feature_config == DEFAULT_FEATURE_CONFIG
    assert m.metadata == {"wer": {"dev": 12.5}, "note": "ü"} and m.spm_bytes == FAKE_SPM
    assert list(m.tensors) == list(tensors)
    for name, t in tensors.items():
        got = m.tensors[name]
        if isinstance(t, PackedTensor):
            assert got == t
        else:
            assert got.dtype == t.dtype and got.shape == t.shape and np.array_equal(got, t)
    for e in m.entries:
        assert e.offset % spec.ALIGNMENT == 0
    assert m.file_bytes == path.stat().st_size


def test_every_single_byte_change_fails_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.qasr"
    _write_min(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.qasr"
    for at in range(0, len(data), 7):
        corrupt = bytearray(data)
        corrupt[at] ^= 0x10
        bad.write_bytes(bytes(corrupt))
        with pytest.raises(FormatError):
            read_model(bad)


def test_reader_rejects_header_defects(tmp_path: Path) -> None:
    path = tmp_path / "m.qasr"
    _write_min(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.qasr"
    cases = {
        "magic": _patch(data, 0, b"XASRMODL"),
        "major": _patch(data, 8, (spec.VERSION_MAJOR + 1).to_bytes(2, "little")),
        "truncated": data[:-1],
        "short": data[:10],
    }
    for what, blob in cases.items():
        bad.write_bytes(blob)
        with pytest.raises(FormatError):
            read_model(bad)
    bad.write_bytes(_patch(data, 10, (spec.VERSION_MINOR + 7).to_bytes(2, "little")))
    assert read_model(bad).version == (spec.VERSION_MAJOR, spec.VERSION_MINOR + 7)  # newer minor is fine


@pytest.mark.parametrize("bits,rows,cols,group", [(2, 9, 64, 32), (3, 17, 100, 64), (4, 8, 32, 32), (8, 3, 200, 1000), (3, 8, 96, 32)])
def test_pack_matches_reference(bits: int, rows: int, cols: int, group: int) -> None:
    rng = np.random.default_rng(bits * 1000 + cols)
    q, s16, z = quantize_minmax(rng.standard_normal((rows, cols)).astype(np.float32), bits, group)
    assert q.max() < (1 << bits) and z.max() < (1 << bits)
    assert pack(q, s16, z, bits) == _reference_pack(q, s16, z, bits)
    assert len(pack(q, s16, z, bits)) == spec.packed_size(bits, rows, cols, group)


def _reference_pack(q, s16, z, b) -> bytes:  # docs/QUANTIZATION.md §1.3, verbatim
    N, K = q.shape; T = -(-N // 8); Kp = -(-K // 32) * 32; ng = s16.shape[1]  # noqa: E702
    codes = bytearray(T * Kp * b)
    for n in range(N):
        t, r = divmod(n, 8)
        for k in range(K):
            sb, c = divmod(k, 32); kb, kk = divmod(c, 4); L = 4 * r + kk  # noqa: E702
            base = (t * (Kp // 32) + sb) * 32 * b; v = int(q[n, k])  # noqa: E702
            if b == 8: codes[base + 32 * kb + L] = v  # noqa: E701
            elif b == 4: codes[base + 32 * (kb // 2) + L] |= v << (4 * (kb % 2))  # noqa: E701
            elif b == 2: codes[base + 32 * (kb // 4) + L] |= v << (2 * (kb % 4))  # noqa: E701
            else:
                codes[base + 32 * (kb // 4) + L] |= (v & 3) << (2 * (kb % 4))
                codes[base + 64 + L] |= (v >> 2) << kb
    scales = np.zeros((T, ng, 8), np.float16); zeros = np.zeros((T, ng, 8), np.uint8)  # noqa: E702
    for n in range(N):
        scales[n // 8, :, n % 8] = s16[n]; zeros[n // 8, :, n % 8] = z[n]  # noqa: E702
    return bytes(codes) + scales.astype('<f2').tobytes() + zeros.tobytes()


def test_writer_rejects_bad_input(tmp_path: Path) -> None:
    p = tmp_path / "x.qasr"
    ok = {"w": np.zeros((2, 2), np.float32)}
    with pytest.raises(ValueError):
        PackedTensor(b"\0" * 10, 4, 32, (8, 32))
    with pytest.raises(ValueError):
        PackedTensor(b"", 4, 48, (8, 64))  # group not a multiple of 32
    with pytest.raises(TypeError):
        write_model(p, MIN_CONFIG, {"w": np.zeros(2, np.int32)}, FAKE_SPM, {})
    with pytest.raises(ValueError):
        write_model(p, MIN_CONFIG, {"bad name": np.zeros(2, np.float32)}, FAKE_SPM, {})
    with pytest.raises(ValueError):
        write_model(p, MIN_CONFIG, {"metadata": np.zeros(2, np.float32)}, FAKE_SPM, {})  # clashes with a blob
    with pytest.raises(ValueError):
        write_model(p, MIN_CONFIG, ok, b"", {})
    with pytest.raises(TypeError):
        write_model(p, MIN_CONFIG, ok, FAKE_SPM, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        write_model(p, MIN_CONFIG, ok, FAKE_SPM, {"x": float("nan")})
    deep: list = []
    for _ in range(70):
        deep = [deep]
    with pytest.raises(ValueError):
        write_model(p, MIN_CONFIG, ok, FAKE_SPM, {"x": deep})  # the C++ loader allows depth 64
    assert not p.exists() and not list(tmp_path.iterdir())


def test_default_features_match_python_frontend() -> None:
    from qasr import features

    f = DEFAULT_FEATURE_CONFIG
    assert (f["sample_rate"], f["num_mel_bins"]) == (features.SAMPLE_RATE, features.NUM_MEL_BINS)
    assert (f["frame_length_ms"], f["frame_shift_ms"]) == (features.FRAME_LENGTH_MS, features.FRAME_SHIFT_MS)
    assert (f["waveform_scale"], f["cmvn_var_floor"]) == (features.INT16_SCALE, features.VAR_FLOOR)


def test_fp32_export_folds_weight_norm(tmp_path: Path) -> None:
    import torch

    from qasr.export.fp32 import export_fp32
    from qasr.model import CausalConv1d, VGGTransformerConfig, build_model

    torch.manual_seed(0)
    model = build_model("tiny", vocab_size=40).eval()
    ckpt, spm, out = tmp_path / "m.pt", tmp_path / "m.spm.model", tmp_path / "m.qasr"
    torch.save({"format": "qasr-vggtransformer-pt", "config": model.cfg.to_dict(), "model": model.state_dict(), "step": 7}, ckpt)
    spm.write_bytes(FAKE_SPM)
    export_fp32(ckpt, spm, out, {"wer": {"dev": 9.9}})
    m = read_model(out)
    assert VGGTransformerConfig.from_dict(m.config) == model.cfg
    assert m.metadata["wer"] == {"dev": 9.9} and m.metadata["training"]["step"] == 7
    sd = model.state_dict()
    convs = {n for n, mod in model.named_modules() if isinstance(mod, CausalConv1d)}
    assert convs
    want = {k for k in sd if k.rpartition(".")[0] not in convs} | {f"{c}.{leaf}" for c in convs for leaf in ("weight", "bias")}
    assert set(m.tensors) == want
    for c in convs:
        mod = model.get_submodule(c)
        np.testing.assert_array_equal(m.tensors[f"{c}.weight"], mod.weight().detach().numpy())
    for k in want - {f"{c}.weight" for c in convs}:
        np.testing.assert_array_equal(m.tensors[k], sd[k].numpy())


def test_testdata_files(tmp_path: Path) -> None:
    from qasr.export.inspect_model import summary
    from qasr.export.testdata import make_test_files

    for path in make_test_files(tmp_path):
        m = read_model(path)
        index = json.loads(path.with_suffix(".expected.json").read_text())
        assert [t["name"] for t in index["tensors"]] == list(m.tensors)
        s = summary(m)
        assert s["totals"]["tensors"] == len(m.tensors)
    mixed = read_model(tmp_path / "tiny-mixed.qasr")
    assert {e.dtype for e in mixed.entries if e.kind == "tensor"} >= {"f32", "f16", "w2", "w3", "w4", "w8"}

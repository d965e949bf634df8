"""Small .qasr files for the C++ tests, the fuzzer's seed corpus and the pytest suite.

Writes, into one directory:
  min.qasr            a few tensors of every dtype (corruption suite, fuzz seed)
  tiny-fp32.qasr      the ``tiny`` model, randomly initialised, FP32 export
  tiny-mixed.qasr     the same with linear weights packed w2/w3/w4/w8 and the embedding f16
  NAME.expected.json  per tensor: dtype, shape, group and where its expected bytes (and for
  NAME.expected.bin   packed ones the plain codes/scales/zeros) lie in NAME.expected.bin
The packer here follows docs/QUANTIZATION.md §1.3; it only makes test data (the real
quantizer lives in qasr.quant).
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple, Union

import numpy as np

from .container import DEFAULT_FEATURE_CONFIG, PackedTensor, write_model

FAKE_SPM = b"qasr test tokenizer: not a SentencePiece model\n"
MIN_CONFIG: Dict[str, Any] = {
    "architecture": "vggtransformer", "vocab_size": 40, "input_feat": 80, "in_channels": 1,
    "vgg": [{"out_channels": 8, "conv_kernel": 3, "pool_kernel": 2, "num_conv_layers": 2, "layer_norm": True}],
    "encoder_layers": [{"d_model": 64, "heads": 2, "ffn_dim": 128, "normalize_before": True}],
    "enc_output_dim": 64, "tgt_embed_dim": 32,
    "decoder_conv": [{"out_channels": 32, "kernel": 3, "layer_norm": True}],
    "decoder_layers": [{"d_model": 64, "heads": 2, "ffn_dim": 128, "normalize_before": True}],
}


def pack(q: np.ndarray, s16: np.ndarray, z: np.ndarray, bits: int) -> bytes:
    """Vectorised docs/QUANTIZATION.md §1.3 pack of codes q[N,K], fp16 scales and zeros [N,ng]."""
    n, k = q.shape
    t, kp, ng = -(-n // 8), -(-k // 32) * 32, s16.shape[1]
    qp = np.zeros((t * 8, kp), np.uint8)
    qp[:n, :k] = q
    blocks = qp.reshape(t, 8, kp // 32, 8, 4).transpose(0, 2, 3, 1, 4).reshape(t, kp // 32, 8, 32)  # [t, sb, kb, lane]

    def planes(v: np.ndarray, b: int) -> np.ndarray:
        per = 8 // b
        v = v.reshape(t, kp // 32, 8 // per, per, 32).astype(np.uint32)
        return sum(v[:, :, :, j] << (b * j) for j in range(per)).astype(np.uint8).reshape(t, kp // 32, -1)

    if bits == 3:
        hi = sum(((blocks[:, :, kb].astype(np.uint32) >> 2) & 1) << kb for kb in range(8)).astype(np.uint8)
        codes = np.concatenate([planes(blocks & 3, 2), hi], axis=2)
    else:
        codes = planes(blocks, bits)
    sp = np.zeros((t * 8, ng), np.float16)
    zp = np.zeros((t * 8, ng), np.uint8)
    sp[:n], zp[:n] = s16, z
    scales = sp.reshape(t, 8, ng).transpose(0, 2, 1).astype("<f2")
    zeros = zp.reshape(t, 8, ng).transpose(0, 2, 1)
    return codes.tobytes() + scales.tobytes() + zeros.tobytes()


def quantize_minmax(w: np.ndarray, bits: int, group: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Asymmetric min/max round-to-nearest per group (test data only)."""
    n, k = w.shape
    ge = min(group, k)
    ng = -(-k // ge)
    q = np.zeros((n, k), np.uint8)
    s16 = np.zeros((n, ng), np.float16)
    z = np.zeros((n, ng), np.uint8)
    top = (1 << bits) - 1
    for g in range(ng):
        cols = w[:, g * ge:(g + 1) * ge].astype(np.float32)
        lo, hi = np.minimum(cols.min(1), 0), np.maximum(cols.max(1), 0)
        s = np.where(hi > lo, (hi - lo) / top, 1.0).astype(np.float16)
        s32 = s.astype(np.float32)
        zz = np.clip(np.round(-lo / s32), 0, top).astype(np.uint8)
        q[:, g * ge:(g + 1) * ge] = np.clip(np.round(cols / s32[:, None]) + zz[:, None], 0, top).astype(np.uint8)
        s16[:, g], z[:, g] = s, zz
    return q, s16, z


def packed(w: np.ndarray, bits: int, group: int) -> Tuple[PackedTensor, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    q, s16, z = quantize_minmax(w, bits, group)
    return PackedTensor(pack(q, s16, z, bits), bits, group, (w.shape[0], w.shape[1])), (q, s16, z)


def _write_expected(path: Path, tensors: Mapping[str, Any], plain: Mapping[str, Tuple[np.ndarray, ...]]) -> None:
    blob = bytearray()
    index: List[Dict[str, Any]] = []

    def put(data: bytes) -> List[int]:
        at = len(blob)
        blob.extend(data)
        return [at, len(data)]

    for name, t in tensors.items():
        if isinstance(t, PackedTensor):
            e = {"name": name, "dtype": t.dtype, "shape": list(t.shape), "group": t.group, "data": put(t.data)}
            q, s16, z = plain[name]
            e.update(codes=put(q.tobytes()), scales=put(s16.astype("<f2").tobytes()), zeros=put(z.tobytes()))
        else:
            a = np.asarray(t)
            dt = "f32" if a.dtype == np.float32 else "f16"
            e = {"name": name, "dtype": dt, "shape": list(a.shape), "group": 0, "data": put(a.astype(a.dtype.newbyteorder("<")).tobytes())}
        index.append(e)
    path.with_suffix(".expected.bin").write_bytes(bytes(blob))
    path.with_suffix(".expected.json").write_text(json.dumps({"tensors": index}, indent=1))


def _write(path: Path, config: Any, tensors: Mapping[str, Any], plain: Mapping[str, Tuple[np.ndarray, ...]], meta: Dict[str, Any]) -> None:
    write_model(path, config, tensors, FAKE_SPM, meta, DEFAULT_FEATURE_CONFIG)
    _write_expected(path, tensors, plain)


def min_tensors(seed: int = 0) -> Tuple["OrderedDict[str, Any]", Dict[str, Tuple[np.ndarray, ...]]]:
    rng = np.random.default_rng(seed)
    t: "OrderedDict[str, Any]" = OrderedDict()
    plain: Dict[str, Tuple[np.ndarray, ...]] = {}
    t["a.f32"] = rng.standard_normal((3, 5)).astype(np.float32)
    t["a.scalar"] = np.float32(1.5).reshape(())
    t["b.f16"] = rng.standard_normal(7).astype(np.float16)
    for bits, rows, cols, group in ((2, 9, 64, 32), (3, 8, 40, 1 << 20), (4, 16, 96, 64), (8, 5, 33, 33)):
        name = f"w{bits}.weight"
        t[name], plain[name] = packed(rng.standard_normal((rows, cols)).astype(np.float32), bits, group)
    return t, plain


def tiny_tensors(seed: int = 0, mixed: bool = False) -> Tuple[Any, "OrderedDict[str, Any]", Dict[str, Tuple[np.ndarray, ...]]]:
    import torch

    from ..model import build_model
    from .fp32 import folded_state_dict

    torch.manual_seed(seed)
    model = build_model("tiny", vocab_size=40).eval()
    tensors: "OrderedDict[str, Any]" = folded_state_dict(model)
    plain: Dict[str, Tuple[np.ndarray, ...]] = {}
    if mixed:
        formats = [(2, 32), (3, 64), (4, 32), (8, 1 << 20), (4, 128)]
        i = 0
        for name, a in list(tensors.items()):
            if name.endswith(".weight") and a.ndim == 2 and "embed" not in name and a.shape[1] >= 32:
                bits, group = formats[i % len(formats)]
                tensors[name], plain[name] = packed(a, bits, group)
                i += 1
            elif "embed" in name:
                tensors[name] = a.astype(np.float16)
    return model.cfg, tensors, plain


def make_test_files(out_dir: Union[str, Path]) -> List[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t, plain = min_tensors()
    meta = {"purpose": "qasr format tests", "wer": {"dev": 0.5}, "text": "ünïcödé"}
    _write(out / "min.qasr", MIN_CONFIG, t, plain, meta)
    cfg, t, plain = tiny_tensors()
    _write(out / "tiny-fp32.qasr", cfg, t, plain, {"purpose": "random tiny fp32"})
    cfg, t, plain = tiny_tensors(mixed=True)
    _write(out / "tiny-mixed.qasr", cfg, t, plain, {"purpose": "random tiny mixed", "quantization": {"recipe": "test"}})
    return [out / n for n in ("min.qasr", "tiny-fp32.qasr", "tiny-mixed.qasr")]

"""Writer of the single-file ``.qasr`` model container (docs/FORMAT.md)."""
from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Tuple, Union

import numpy as np

from . import spec

# tools/qasr/features.py (Kaldi fbank 80 x 25 ms / 10 ms, per-utterance CMVN).
DEFAULT_FEATURE_CONFIG: Dict[str, Any] = {
    "sample_rate": 16000,
    "num_mel_bins": 80,
    "frame_length_ms": 25.0,
    "frame_shift_ms": 10.0,
    "dither": 0.0,
    "waveform_scale": 32768.0,
    "cmvn": "utterance",
    "cmvn_var_floor": 1e-8,
}

_NAME_RE = re.compile(r"^[A-Za-z0-9._/:-]+$")


@dataclass(frozen=True)
class PackedTensor:
    """A packed low-bit weight (docs/QUANTIZATION.md §1.3): ``data`` is the whole blob
    (codes, fp16 scales, zero points) for W[rows][cols] quantized in groups of ``group``."""

    data: bytes
    bits: int
    group: int
    shape: Tuple[int, int]

    def __post_init__(self) -> None:
        rows, cols = self.shape
        want = spec.packed_size(self.bits, rows, cols, self.group)
        if len(self.data) != want:
            raise ValueError(f"packed w{self.bits} {rows}x{cols} group {self.group}: {len(self.data)} bytes, expected {want}")

    @property
    def dtype(self) -> str:
        return f"w{self.bits}"


Tensor = Union[np.ndarray, PackedTensor]


@dataclass
class _Entry:
    name: str
    kind: str
    data: bytes
    dtype: str = "raw"
    shape: Tuple[int, ...] = ()
    group: int = 0


MAX_JSON_DEPTH = 64  # the C++ loader's limit (engine/format/model_config.cc)


def _depth(obj: Any) -> int:
    if isinstance(obj, Mapping):
        return 1 + max((_depth(v) for v in obj.values()), default=0)
    if isinstance(obj, (list, tuple)):
        return 1 + max((_depth(v) for v in obj), default=0)
    return 0


def _json_bytes(obj: Any, what: str) -> bytes:
    if not isinstance(obj, Mapping):
        raise TypeError(f"{what} must be a JSON object (dict)")
    if _depth(obj) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} is nested deeper than {MAX_JSON_DEPTH}")
    return json.dumps(obj, sort_keys=False, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _config_dict(config: Any) -> Dict[str, Any]:
    d = dict(config.to_dict() if hasattr(config, "to_dict") else config)
    d.setdefault("architecture", "vggtransformer")
    return d


def _tensor_entry(name: str, t: Tensor) -> _Entry:
    if isinstance(t, PackedTensor):
        return _Entry(name, "tensor", bytes(t.data), t.dtype, tuple(t.shape), t.group)
    a = np.asarray(t)
    stored = {("f", 4): ("f32", "<f4"), ("f", 2): ("f16", "<f2")}.get((a.dtype.kind, a.dtype.itemsize))
    if stored is None:
        raise TypeError(f"tensor {name}: dtype {a.dtype} (use float32, float16 or PackedTensor)")
    dtype = stored[0]
    if a.ndim > spec.MAX_RANK or a.size == 0:
        raise ValueError(f"tensor {name}: shape {a.shape} (rank 0..{spec.MAX_RANK}, non-empty)")
    return _Entry(name, "tensor", np.ascontiguousarray(a, dtype=stored[1]).tobytes(), dtype, tuple(a.shape))


def _align(n: int) -> int:
    return -(-n // spec.ALIGNMENT) * spec.ALIGNMENT


def _entries(config: Any, tensors: Mapping[str, Tensor], spm_bytes: bytes, metadata: Mapping[str, Any],
             feature_config: Mapping[str, Any]) -> List[_Entry]:
    if not spm_bytes:
        raise ValueError("spm_bytes is empty: the file must carry its tokenizer")
    b = spec.BLOB_NAMES
    out = [
        _Entry(b["model_config"], "model_config", _json_bytes(_config_dict(config), "config")),
        _Entry(b["feature_config"], "feature_config", _json_bytes(feature_config, "feature_config")),
        _Entry(b["metadata"], "metadata", _json_bytes(metadata, "metadata")),
        _Entry(b["tokenizer"], "tokenizer", bytes(spm_bytes)),
    ]
    out += [_tensor_entry(n, t) for n, t in tensors.items()]
    seen = set()
    for e in out:
        nb = e.name.encode("ascii", "strict") if e.name.isascii() else b""
        if not _NAME_RE.match(e.name) or not 0 < len(nb) <= spec.LIMITS["max_name_bytes"]:
            raise ValueError(f"invalid entry name {e.name!r}")
        if e.name in seen:
            raise ValueError(f"duplicate entry name {e.name!r}")
        seen.add(e.name)
    if len(out) > spec.LIMITS["max_entries"]:
        raise ValueError("too many tensors")
    return out


def _layout(entries: List[_Entry]) -> Tuple[bytes, List[int], int]:
    """Serialises the table; returns (header-less table bytes, data offsets, file size)."""
    names = b"".join(e.name.encode("ascii") for e in entries)
    table_bytes = len(entries) * spec.ENTRY_BYTES + len(names)
    at = _align(spec.HEADER_BYTES + table_bytes)
    offsets = []
    for e in entries:
        offsets.append(at)
        at = _align(at + len(e.data))
    file_bytes = offsets[-1] + len(entries[-1].data) if entries else at
    rows, name_at = [], 0
    for e, off in zip(entries, offsets):
        dims = list(e.shape) + [0] * (spec.MAX_RANK - len(e.shape))
        f = dict(data_offset=off, data_bytes=len(e.data), name_offset=name_at, name_bytes=len(e.name), kind=spec.KINDS[e.kind],
                 dtype=spec.DTYPES[e.dtype], rank=len(e.shape), reserved0=0, reserved1=0, group=e.group,
                 dim0=dims[0], dim1=dims[1], dim2=dims[2], dim3=dims[3])
        rows.append(spec.ENTRY_STRUCT.pack(*(f[n] for n in spec.ENTRY_FIELDS)))
        name_at += len(e.name)
    return b"".join(rows) + names, offsets, file_bytes


def _header(table_bytes: int, count: int, file_bytes: int, checksum: int) -> bytes:
    f = dict(magic=spec.MAGIC, version_major=spec.VERSION_MAJOR, version_minor=spec.VERSION_MINOR, header_bytes=spec.HEADER_BYTES,
             file_bytes=file_bytes, table_offset=spec.HEADER_BYTES, table_bytes=table_bytes, entry_count=count,
             entry_bytes=spec.ENTRY_BYTES, alignment=spec.ALIGNMENT, checksum=checksum, flags=0)
    return spec.HEADER_STRUCT.pack(*(f[n] for n in spec.HEADER_FIELDS))


def write_model(path: Union[str, Path], config: Any, tensors: Mapping[str, Tensor], spm_bytes: bytes,
                metadata: Mapping[str, Any], feature_config: Mapping[str, Any] = DEFAULT_FEATURE_CONFIG) -> int:
    """Writes a ``.qasr`` file atomically and returns its size in bytes.

    ``config``: a ``VGGTransformerConfig`` or its ``to_dict()``; ``tensors``: name → float32 /
    float16 numpy array or :class:`PackedTensor` (written in the given order); ``metadata``: any
    JSON object (training recipe, quantization recipe, measured WER, ...).
    """
    entries = _entries(config, tensors, spm_bytes, metadata, feature_config)
    table, offsets, file_bytes = _layout(entries)
    header = _header(len(table), len(entries), file_bytes, 0)
    crc = zlib.crc32(header)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(table)
        crc = zlib.crc32(table, crc)
        at = spec.HEADER_BYTES + len(table)
        for e, off in zip(entries, offsets):
            pad = b"\0" * (off - at)
            f.write(pad)
            f.write(e.data)
            crc = zlib.crc32(e.data, zlib.crc32(pad, crc))
            at = off + len(e.data)
        f.seek(spec.CHECKSUM_AT)
        f.write(crc.to_bytes(4, "little"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return file_bytes

"""Reader of ``.qasr`` files (tests, ``inspect`` parity). Validates like the C++ loader,
less exhaustively: the C++ side (engine/format) is the hardened one."""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from . import spec
from .container import PackedTensor


class FormatError(ValueError):
    """A malformed, corrupt or unsupported .qasr file."""


@dataclass
class Entry:
    name: str
    kind: str
    dtype: str
    shape: Tuple[int, ...]
    group: int
    offset: int
    nbytes: int


@dataclass
class ModelData:
    version: Tuple[int, int]
    checksum: int
    file_bytes: int
    config: Dict[str, Any]
    feature_config: Dict[str, Any]
    metadata: Dict[str, Any]
    spm_bytes: bytes
    tensors: Dict[str, Union[np.ndarray, PackedTensor]]
    entries: List[Entry] = field(default_factory=list)


def checksum(data: bytes) -> int:
    """CRC-32 of the file with the header's checksum field read as zeros."""
    at = spec.CHECKSUM_AT
    return zlib.crc32(data[at + 4:], zlib.crc32(b"\0\0\0\0", zlib.crc32(data[:at])))


def _json(data: bytes, what: str) -> Dict[str, Any]:
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FormatError(f"{what}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what}: not a JSON object")
    return obj


def _entries(data: bytes, h: Dict[str, Any]) -> List[Entry]:
    count, eb, toff, tbytes = h["entry_count"], h["entry_bytes"], h["table_offset"], h["table_bytes"]
    if eb < spec.ENTRY_BYTES or toff < spec.HEADER_BYTES or toff + tbytes > len(data) or count * eb > tbytes:
        raise FormatError("bad table")
    strings = toff + count * eb
    out = []
    for i in range(count):
        f = dict(zip(spec.ENTRY_FIELDS, spec.ENTRY_STRUCT.unpack_from(data, toff + i * eb)))
        a, n = strings + f["name_offset"], f["name_bytes"]
        if n == 0 or a + n > toff + tbytes:
            raise FormatError(f"entry {i}: name out of bounds")
        off, nb = f["data_offset"], f["data_bytes"]
        if off % h["alignment"] or off < toff + tbytes or off + nb > len(data):
            raise FormatError(f"entry {i}: data out of bounds or misaligned")
        rank = f["rank"]
        if rank > spec.MAX_RANK:
            raise FormatError(f"entry {i}: rank {rank}")
        kind = spec.KIND_NAMES.get(f["kind"], f"unknown({f['kind']})")
        dtype = spec.DTYPE_NAMES.get(f["dtype"], f"unknown({f['dtype']})")
        shape = tuple(f[f"dim{d}"] for d in range(rank))
        out.append(Entry(data[a:a + n].decode("ascii", "replace"), kind, dtype, shape, f["group"], off, nb))
    return out


def _tensor(data: bytes, e: Entry) -> Union[np.ndarray, PackedTensor]:
    raw = data[e.offset:e.offset + e.nbytes]
    if e.dtype in spec.PACKED_BITS:
        if len(e.shape) != 2:
            raise FormatError(f"{e.name}: packed weights need rank 2")
        try:
            return PackedTensor(raw, spec.PACKED_BITS[e.dtype], e.group, (e.shape[0], e.shape[1]))
        except ValueError as err:
            raise FormatError(f"{e.name}: {err}") from None
    np_dtype = {"f32": "<f4", "f16": "<f2"}.get(e.dtype)
    if np_dtype is None:
        raise FormatError(f"{e.name}: unsupported dtype {e.dtype}")
    count = int(np.prod(e.shape, dtype=np.int64)) if e.shape else 1
    if count * np.dtype(np_dtype).itemsize != e.nbytes:
        raise FormatError(f"{e.name}: {e.nbytes} bytes do not match {e.dtype}{list(e.shape)}")
    return np.frombuffer(raw, dtype=np_dtype).reshape(e.shape)


def read_model(path: Union[str, Path], verify_checksum: bool = True) -> ModelData:
    """Reads and validates a whole .qasr file (tensor arrays are read-only views of its bytes)."""
    data = Path(path).read_bytes()
    if len(data) < spec.HEADER_BYTES:
        raise FormatError("truncated header")
    h = dict(zip(spec.HEADER_FIELDS, spec.HEADER_STRUCT.unpack_from(data, 0)))
    if h["magic"] != spec.MAGIC:
        raise FormatError("bad magic")
    if h["version_major"] != spec.VERSION_MAJOR:
        raise FormatError(f"unsupported format version {h['version_major']}.{h['version_minor']}")
    if h["file_bytes"] != len(data):
        raise FormatError(f"file is {len(data)} bytes, header says {h['file_bytes']}")
    if verify_checksum and checksum(data) != h["checksum"]:
        raise FormatError("checksum mismatch")
    entries = _entries(data, h)
    if len({e.name for e in entries}) != len(entries):
        raise FormatError("duplicate entry names")
    blobs: Dict[str, bytes] = {}
    tensors: Dict[str, Union[np.ndarray, PackedTensor]] = {}
    for e in entries:
        if e.kind == "tensor":
            tensors[e.name] = _tensor(data, e)
        elif e.kind in spec.BLOB_NAMES:
            blobs[e.kind] = data[e.offset:e.offset + e.nbytes]
    for kind in spec.BLOB_NAMES:
        if kind not in blobs:
            raise FormatError(f"missing {kind}")
    return ModelData(
        version=(h["version_major"], h["version_minor"]),
        checksum=h["checksum"],
        file_bytes=len(data),
        config=_json(blobs["model_config"], "model config"),
        feature_config=_json(blobs["feature_config"], "feature config"),
        metadata=_json(blobs["metadata"], "metadata"),
        spm_bytes=blobs["tokenizer"],
        tensors=tensors,
        entries=entries,
    )

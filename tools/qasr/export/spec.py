"""The .qasr container spec, read from engine/format/format_spec.json (the single
source of truth shared with the C++ loader, which CMake generates a header from)."""
from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Dict, List, Tuple

SPEC_PATH = Path(__file__).resolve().parents[3] / "engine" / "format" / "format_spec.json"

_STRUCT = {"char8": "8s", "u8": "B", "u16": "H", "u32": "I", "u64": "Q"}


def _load() -> Dict[str, Any]:
    with open(SPEC_PATH, encoding="utf-8") as f:
        return json.load(f)


SPEC: Dict[str, Any] = _load()
MAGIC: bytes = SPEC["magic"].encode("ascii")
VERSION_MAJOR: int = SPEC["version_major"]
VERSION_MINOR: int = SPEC["version_minor"]
ALIGNMENT: int = SPEC["alignment"]
HEADER_BYTES: int = SPEC["header_bytes"]
ENTRY_BYTES: int = SPEC["entry_bytes"]
MAX_RANK: int = SPEC["max_rank"]
KINDS: Dict[str, int] = SPEC["kinds"]
DTYPES: Dict[str, int] = SPEC["dtypes"]
DTYPE_BITS: Dict[str, int] = SPEC["dtype_bits"]
BLOB_NAMES: Dict[str, str] = SPEC["blob_names"]
LIMITS: Dict[str, int] = SPEC["limits"]
KIND_NAMES = {v: k for k, v in KINDS.items()}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
PACKED_BITS = {"w2": 2, "w3": 3, "w4": 4, "w8": 8}
CHECKSUM_AT = dict((f[0], f[1]) for f in SPEC["header_fields"])["checksum"]


def _struct(fields: List[Tuple[str, int, str]], size: int) -> Tuple[struct.Struct, List[str]]:
    """A little-endian struct for [name, offset, type] fields; checks they tile ``size`` bytes."""
    fmt, names, at = "<", [], 0
    for name, offset, typ in fields:
        if offset != at:
            raise ValueError(f"format_spec.json: field {name} at {offset}, expected {at}")
        fmt += _STRUCT[typ]
        names.append(name)
        at += struct.calcsize("<" + _STRUCT[typ])
    if at != size:
        raise ValueError(f"format_spec.json: fields cover {at} bytes, expected {size}")
    return struct.Struct(fmt), names


HEADER_STRUCT, HEADER_FIELDS = _struct(SPEC["header_fields"], HEADER_BYTES)
ENTRY_STRUCT, ENTRY_FIELDS = _struct(SPEC["entry_fields"], ENTRY_BYTES)


def packed_size(bits: int, rows: int, cols: int, group: int) -> int:
    """Bytes of a packed weight blob (docs/QUANTIZATION.md §1.3; mirrors WeightLayout::Make)."""
    if bits not in (2, 3, 4, 8):
        raise ValueError(f"unsupported bit width {bits}")
    if not (0 < rows <= 1 << 24 and 0 < cols <= 1 << 24):
        raise ValueError(f"weight dimensions out of range: {rows}x{cols}")
    if group <= 0:
        raise ValueError("group size must be positive")
    ge = min(group, cols)
    if ge < cols and ge % 32 != 0:
        raise ValueError(f"group {group} must be a multiple of 32 or cover the row ({cols})")
    if ge > 16384:
        raise ValueError(f"group {ge} larger than 16384")
    groups = -(-cols // ge)
    tiles = -(-rows // 8)
    padded = -(-cols // 32) * 32
    return tiles * padded * bits + tiles * groups * 8 * 2 + tiles * groups * 8

"""``inspect`` summary of a .qasr file; the same JSON as ``asr-cli inspect --json``."""
from __future__ import annotations

from typing import Any, Dict

from .reader import ModelData


def _params(shape: Any) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def summary(m: ModelData) -> Dict[str, Any]:
    tensors, by_dtype = [], {}
    total_params = total_bytes = 0
    for e in m.entries:
        if e.kind != "tensor":
            continue
        p = _params(e.shape)
        tensors.append({"name": e.name, "dtype": e.dtype, "shape": list(e.shape), "group": e.group, "bytes": e.nbytes,
                        "bits_per_weight": round(8.0 * e.nbytes / p, 4)})
        d = by_dtype.setdefault(e.dtype, {"tensors": 0, "parameters": 0, "bytes": 0})
        d["tensors"] += 1
        d["parameters"] += p
        d["bytes"] += e.nbytes
        total_params += p
        total_bytes += e.nbytes
    return {
        "version": f"{m.version[0]}.{m.version[1]}",
        "file_bytes": m.file_bytes,
        "checksum": f"{m.checksum:08x}",
        "config": m.config,
        "feature_config": m.feature_config,
        "metadata": m.metadata,
        "tokenizer_bytes": len(m.spm_bytes),
        "tensors": tensors,
        "totals": {"tensors": len(tensors), "parameters": total_params, "bytes": total_bytes,
                   "bits_per_weight": round(8.0 * total_bytes / max(total_params, 1), 4), "by_dtype": by_dtype},
    }

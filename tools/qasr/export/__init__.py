"""Single-file ``.qasr`` model container (docs/FORMAT.md): writer, reader and exporters.

    from qasr.export import PackedTensor, write_model, read_model
    write_model(path, config, tensors, spm_bytes, metadata)

``python3 -m qasr.export fp32 --checkpoint ... --spm ... --out X-fp32.qasr`` exports the
FP32 reference model.
"""
from .container import DEFAULT_FEATURE_CONFIG, PackedTensor, write_model
from .reader import Entry, FormatError, ModelData, read_model

__all__ = [
    "DEFAULT_FEATURE_CONFIG",
    "Entry",
    "FormatError",
    "ModelData",
    "PackedTensor",
    "read_model",
    "write_model",
]

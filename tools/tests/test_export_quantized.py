"""Quantized .qasr export (qasr.export.quantized) and the engine fixture writer."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch

from qasr.export import PackedTensor, read_model
from qasr.export.engine_fixture import random_model
from qasr.export.fp32 import folded_state_dict
from qasr.export.quantized import export_quantized_model
from qasr.export.testdata import FAKE_SPM
from qasr.quant import formats as F
from qasr.quant.api import quantize_model
from qasr.quant.modules import QuantCausalConv1d, QuantConv2d, QuantEmbedding, QuantLinear


def test_quantized_export_round_trip(tmp_path: Path) -> None:
    model = quantize_model(copy.deepcopy(random_model()), "w2g32", init="minmax").eval()
    path = tmp_path / "m.qasr"
    export_quantized_model(model, FAKE_SPM, path, "w2g32")
    m = read_model(path)
    layers = m.metadata["quantization"]["layers"]
    assert m.metadata["quantization"]["recipe"] == "w2g32"
    assert not any(".wq." in k for k in m.tensors)
    seen = set()
    for name, mod in model.named_modules():
        if isinstance(mod, QuantLinear):
            t = m.tensors[f"{name}.weight"]
            assert isinstance(t, PackedTensor)
            qw = mod.export()
            assert (t.bits, t.shape) == (qw.bits, tuple(qw.codes.shape))
            back = F.unpack(t.data, t.bits, t.shape[0], t.shape[1], t.group)
            assert torch.equal(back.dequantize(), qw.dequantize())
            assert layers[name]["stored"] == f"w{qw.bits}"
            assert layers[name]["act_bits"] == mod.spec.act_bits
            np.testing.assert_array_equal(m.tensors[f"{name}.bias"], mod.bias.detach().numpy())
            seen.add("linear")
        elif isinstance(mod, (QuantConv2d, QuantCausalConv1d, QuantEmbedding)):
            w = m.tensors[f"{name}.weight"]
            assert isinstance(w, np.ndarray) and w.dtype == np.float32
            if isinstance(mod, QuantCausalConv1d):
                want = mod.weight().detach()  # fake-quantized folded (K, in, out)
            else:
                want = mod.quant_weight_matrix().detach().view_as(mod.weight)
            np.testing.assert_array_equal(w, want.numpy())
            assert layers[name]["stored"] == "f32"
            assert layers[name]["act_bits"] == (None if isinstance(mod, QuantEmbedding) else mod.spec.act_bits)
            seen.add(type(mod).__name__)
    assert seen == {"linear", "QuantConv2d", "QuantCausalConv1d", "QuantEmbedding"}
    # Unquantized tensors (LayerNorms) are exported as in the float model.
    ref = folded_state_dict(model)
    np.testing.assert_array_equal(m.tensors["encoder.transformer_layers.4.weight"],
                                  ref["encoder.transformer_layers.4.weight"])


def test_engine_fixture_plan_is_consistent() -> None:
    from qasr.export.engine_fixture import PLAN

    n_prev = 1
    for i, (parents, tokens) in enumerate(PLAN):
        assert len(parents) == len(tokens) <= 3
        if i > 0:
            assert all(0 <= p < n_prev for p in parents)
        n_prev = len(tokens)
    assert json.dumps(PLAN)  # JSON-serialisable

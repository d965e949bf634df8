"""qasr.quant modules, recipes, report, PTQ and checkpoints on the ``tiny`` model."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from qasr.model import CausalConv1d, build_model
from qasr.quant import formats as F
from qasr.quant.api import dequantize_model, load_recipe, match, quant_layers, quantize_model, report
from qasr.quant.io import export_packed, load_quantized, random_calibration, save_quantized
from qasr.quant.modules import QuantCausalConv1d, QuantConv2d, QuantEmbedding, QuantLinear, QuantSpec
from qasr.quant.ptq import gptq, ptq, search_clip

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny() -> nn.Module:
    torch.manual_seed(0)
    return build_model("tiny", vocab_size=60).eval()


def _inputs(seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 40, 80, generator=g), torch.tensor([40, 33]), torch.randint(4, 60, (2, 6), generator=g)


def test_recipe_first_match_wins_and_null_keeps_float(tiny: nn.Module) -> None:
    rec = {
        "layers": {
            "decoder.fc_out": {"bits": 8, "group": 0},
            "re:encoder\\.conv_layers\\..*": None,
            "*.fc1": {"bits": 2, "group": 32},
            "*": {"bits": 4, "group": 64, "act_bits": None},
        }
    }
    rules = load_recipe(rec)
    assert match(rules, "decoder.fc_out")[1].bits == 8
    assert match(rules, "encoder.conv_layers.0.layers.0") == (True, None)
    m = quantize_model(copy.deepcopy(tiny), rec, init="minmax")
    kinds = {n: type(mod) for n, mod in m.named_modules()}
    assert kinds["encoder.conv_layers.0.layers.0"] is nn.Conv2d
    assert kinds["decoder.fc_out"] is QuantLinear and m.decoder.fc_out.spec.bits == 8
    assert m.encoder.transformer_layers[1].fc1.spec.bits == 2
    assert m.encoder.transformer_layers[1].fc2.spec.bits == 4
    assert kinds["decoder.conv_layers.0"] is QuantCausalConv1d and kinds["decoder.embed_tokens"] is QuantEmbedding
    with pytest.raises(ValueError):
        load_recipe({"*": {"bits": 5}})


@pytest.mark.parametrize("name", ["w8", "w4g64", "w3g64", "w2g32", "w4g64_f32act", "w4g128"])
def test_bundled_recipes_run(tiny: nn.Module, name: str) -> None:
    m = quantize_model(copy.deepcopy(tiny), name, init="minmax")
    x, lens, prev = _inputs()
    with torch.no_grad():
        y0, y = tiny(x, lens, prev), m(x, lens, prev)
    assert torch.isfinite(y).all()
    assert ((y - y0) ** 2).mean() < (y0**2).mean()  # quantized, not broken


def test_fake_quant_forward_equals_export(tiny: nn.Module) -> None:
    """Every module's fake-quantized weight is bit-identical to its exported dequantized weight."""
    m = quantize_model(copy.deepcopy(tiny), "w3g64", init="mse")
    seen = set()
    for _, mod in quant_layers(m):
        seen.add(type(mod))
        qw = mod.export()
        assert torch.equal(mod.quant_weight_matrix().detach(), qw.dequantize())
        blob = qw.pack()
        back = F.unpack(blob, qw.bits, *qw.codes.shape, qw.group)
        assert torch.equal(back.dequantize(), qw.dequantize())
    assert seen == {QuantLinear, QuantConv2d, QuantCausalConv1d, QuantEmbedding}


def test_quant_linear_matches_integer_gemm() -> None:
    torch.manual_seed(2)
    lin = nn.Linear(100, 24)
    q = QuantLinear(lin, QuantSpec(4, 32, False, 8))
    x = torch.randn(7, 100)
    with torch.no_grad():
        y = q(x)
    qw = q.export()
    exact = F.gemm_a8(F.quantize_activations(x, 32), qw, lin.bias.detach())
    assert torch.allclose(y, exact, rtol=0, atol=1e-5 * float(exact.abs().max()))


def test_conv2d_im2col_order() -> None:
    torch.manual_seed(3)
    conv = nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 6, 7)
    qf = QuantConv2d(conv, QuantSpec(8, 0, True, None))
    qa = QuantConv2d(conv, QuantSpec(8, 0, True, 8))
    with torch.no_grad():
        w = qf.quant_weight_matrix().view_as(conv.weight)
        assert torch.allclose(qf(x), nn.functional.conv2d(x, w, conv.bias, padding=1), atol=1e-5)
        rows = qa.gemm_rows(x)  # patches in weight.reshape(C_out, -1) order
        want = F.gemm_a8(F.quantize_activations(rows, 27), qa.export(), conv.bias.detach())
        got = qa(x).permute(0, 2, 3, 1).reshape(-1, 5)
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("shape,kernel,pad", [((2, 3, 6, 7), 3, 1), ((1, 1, 9, 5), 3, 1), ((2, 4, 5, 8), 5, 2), ((1, 2, 4, 4), 3, 0)])
def test_conv2d_offsets_path_equals_im2col(shape, kernel: int, pad: int) -> None:
    """The training path (kernel offsets, no patch matrix) has the im2col path's values and gradients."""
    torch.manual_seed(5)
    conv = nn.Conv2d(shape[1], 6, kernel, padding=pad)
    fast = QuantConv2d(conv, QuantSpec(8, 0, True, 8))
    slow = copy.deepcopy(fast)
    slow.force_im2col = True
    x = torch.randn(*shape) * torch.rand(1, 1, shape[2], shape[3]) * 3  # uneven patch maxima
    x[0, :, :3, :3] = 0.0  # an all-zero patch: amax 0 gives codes and scale 0
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = fast(xa), slow(xb)
    assert ya.shape == yb.shape and torch.allclose(ya, yb, atol=1e-5)
    g = torch.randn_like(ya)
    (ya * g).sum().backward()
    (yb * g).sum().backward()
    assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
    assert torch.allclose(fast.weight.grad, slow.weight.grad, atol=1e-4)
    assert torch.allclose(fast.wq.scale.grad, slow.wq.scale.grad, atol=1e-4)


def test_causal_conv_forward_equals_steps() -> None:
    torch.manual_seed(4)
    src = CausalConv1d(6, 5, 3)
    q = QuantCausalConv1d(src, QuantSpec(4, 0, False, 8))
    x = torch.randn(2, 7, 6)
    with torch.no_grad():
        full = q(x)
        hist = torch.zeros(2, 2, 6)
        for t in range(7):
            window = torch.cat([hist, x[:, t : t + 1]], 1)
            hist = window[:, 1:]
            assert torch.allclose(q.step(window), full[:, t], atol=1e-6)
        # float activations: the folded, fake-quantized weight through the original code path
        qf = QuantCausalConv1d(src, QuantSpec(4, 0, False, None))
        ref = nn.functional.linear(qf.gemm_rows(x), qf.quant_weight_matrix(), src.bias).view(2, 7, 5)
        assert torch.allclose(qf(x), ref, atol=1e-5)


def test_lsq_training_reduces_weight_error() -> None:
    torch.manual_seed(5)
    lin = nn.Linear(64, 32)
    q = QuantLinear(lin, QuantSpec(2, 32, False, 8), init="minmax")
    x = torch.randn(256, 64)
    target = lin(x).detach()
    opt = torch.optim.Adam([{"params": [q.wq.scale, q.wq.zero], "lr": 1e-3}, {"params": [q.weight], "lr": 1e-4}])
    losses = []
    for _ in range(40):
        loss = ((q(x) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        assert q.wq.scale.grad is not None and torch.isfinite(q.wq.scale.grad).all()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.95 * losses[0]
    assert torch.equal(q.quant_weight_matrix().detach(), q.export().dequantize())


def test_gptq_beats_rtn_on_correlated_inputs() -> None:
    torch.manual_seed(6)
    w = torch.randn(32, 128)
    x = torch.randn(2048, 16) @ torch.randn(16, 128) + 0.1 * torch.randn(2048, 128)
    h = 2 * x.double().t() @ x.double() / x.size(0)
    rtn = F.quantize_weight(w, 3, 32, False)
    g = gptq(w, h, 3, 32, False)
    err = lambda q: float(((x @ (q.dequantize() - w).t()) ** 2).mean())  # noqa: E731
    assert err(g) < 0.7 * err(rtn)


def test_gptq_act_order_uses_static_groups_and_beats_rtn() -> None:
    torch.manual_seed(7)
    w = torch.randn(24, 96)
    # inputs of very unequal energy per column: the case activation order is for
    x = (torch.randn(4096, 12) @ torch.randn(12, 96) + 0.1 * torch.randn(4096, 96)) * torch.linspace(0.1, 3.0, 96)[torch.randperm(96)]
    h = 2 * x.double().t() @ x.double() / x.size(0)
    err = lambda q: float(((x @ (q.dequantize() - w).t()) ** 2).mean())  # noqa: E731
    rtn = F.quantize_weight(w, 2, 32, False)
    ao = gptq(w, h, 2, 32, False, act_order=True)
    assert err(ao) < 0.7 * err(rtn)
    # static groups: the parameters are those of MSE clipping on the float weights
    s, z = F.minmax_params(w, 2, 32, False, search_clip(w, 2, 32, False))
    assert torch.equal(ao.scales.float(), F.fp16_scale(s).float())
    assert torch.equal(ao.zeros, z)
    # the codes reproduce through the format (what export writes)
    again = F.quantize_weight(ao.dequantize(), 2, 32, False, ao.scales.float(), ao.zeros)
    assert torch.equal(again.codes, ao.codes)


def test_ptq_report_checkpoint_roundtrip(tiny: nn.Module, tmp_path: Path) -> None:
    m = quantize_model(copy.deepcopy(tiny), "w4g64", init="none")
    ptq(m, "gptq", lambda mm: random_calibration(mm, batches=1, frames=48, tokens=5))
    rep = report(m)
    by = {r.name: r for r in rep["layers"]}
    fc1 = by["encoder.transformer_layers.1.fc1"]
    assert (fc1.rows, fc1.cols, fc1.bits, fc1.group) == (192, 96, 4, 64)
    assert fc1.bytes == F.Layout(4, 192, 96, 64).total_bytes
    assert by["decoder.fc_out"].bits == 8 and by["decoder.embed_tokens"].act_bits is None
    assert rep["total_bytes"] == rep["quant_bytes"] + 4 * rep["float_params"]
    save_quantized(m, "w4g64", tmp_path / "q.pt")
    back = load_quantized(tmp_path / "q.pt")
    x, lens, prev = _inputs(2)
    with torch.no_grad():
        assert torch.equal(m(x, lens, prev), back(x, lens, prev))
    index = export_packed(back, tmp_path / "packed")
    e = index["decoder.fc_out"]
    blob = (tmp_path / "packed" / "decoder.fc_out.bin").read_bytes()
    qw = F.unpack(blob, e["bits"], e["rows"], e["cols"], e["group"])
    assert torch.equal(qw.dequantize(), back.decoder.fc_out.quant_weight_matrix().detach())
    d = dequantize_model(copy.deepcopy(back))
    assert not quant_layers(d)
    for _, mod in quant_layers(back):  # the float model has float activations
        mod.spec = dataclasses.replace(mod.spec, act_bits=None)
    with torch.no_grad():
        assert torch.allclose(d(x, lens, prev), back(x, lens, prev), atol=1e-3)


def test_ptq_cli_writes_a_qat_start_point(tiny: nn.Module, tmp_path: Path) -> None:
    from qasr.quant.__main__ import main
    from qasr.train import export_weights
    from qasr.train_gpu import npz_meta, qat_from_npz

    export_weights(tiny, tmp_path / "tiny.pt", "spm.model")
    main(["ptq", "--model", str(tmp_path / "tiny.pt"), "--recipe", "w2g128_mix", "--method", "gptq", "--threads", "1",
          "--out", str(tmp_path / "q"), "--qat-npz", str(tmp_path / "q.npz")])
    ptq_model = load_quantized(tmp_path / "q" / "model-quant.pt")
    back = qat_from_npz(tmp_path / "q.npz")
    meta = npz_meta(tmp_path / "q.npz")
    assert meta["mode"] == "qat" and meta["ptq"] == "gptq"
    assert meta["bits"]["encoder.transformer_layers.1.fc1"] == 2 and meta["bits"]["decoder.fc_out"] == 4
    x, lens, prev = _inputs(3)
    with torch.no_grad():  # the start point is the GPTQ model, codes and all
        assert torch.equal(back(x, lens, prev), ptq_model(x, lens, prev))

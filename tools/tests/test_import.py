"""fairseq importer: round trip through checkpoints built to the spec's key list (§4)."""
from __future__ import annotations

import sys
import types
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from qasr.fairseq_import import (
    checkpoint_args,
    eval_config_string,
    import_checkpoint,
    infer_config,
    merge_in_proj,
    split_in_proj,
)
from qasr.model import VGGTransformer, build_model, get_config

from test_model import no_init


def _no_dropout(cfg):
    """The config with all dropouts zeroed (the architecture proper)."""
    from dataclasses import replace

    z = lambda ls: tuple(replace(l, dropout=0.0, attention_dropout=0.0, relu_dropout=0.0) for l in ls)  # noqa: E731
    return replace(cfg, encoder_layers=z(cfg.encoder_layers), decoder_layers=z(cfg.decoder_layers))


def _fake_fairseq_meter_module() -> types.ModuleType:
    """A stand-in ``fairseq.meters`` so the saved pickle references fairseq classes."""
    mod = types.ModuleType("fairseq.meters")

    class AverageMeter:  # noqa: D401 - pickled by reference
        def __init__(self) -> None:
            self.avg, self.count = 1.5, 3

    AverageMeter.__module__ = "fairseq.meters"
    AverageMeter.__qualname__ = "AverageMeter"
    mod.AverageMeter = AverageMeter  # type: ignore[attr-defined]
    return mod


def _save_fairseq_like(model: VGGTransformer, path: Path, in_proj: bool) -> None:
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    if in_proj:
        sd = merge_in_proj(sd)
    enc = model.cfg.encoder_layers
    args = Namespace(
        arch="vggtransformer_custom",
        input_feat_per_channel=80,
        vggblock_enc_config=str(tuple((b.out_channels, b.conv_kernel, b.pool_kernel, b.num_conv_layers, b.layer_norm) for b in model.cfg.vgg)),
        transformer_enc_config=f"(({enc[0].d_model}, {enc[0].heads}, {enc[0].ffn_dim}, True, 0.15, 0.15, 0.15),) * {len(enc)}",
        enc_output_dim=model.cfg.enc_output_dim,
        in_channels=1,
        tgt_embed_dim=model.cfg.tgt_embed_dim,
        transformer_dec_config=str(tuple((l.d_model, l.heads, l.ffn_dim, True, 0.15, 0.15, 0.15) for l in model.cfg.decoder_layers)),
        conv_dec_config=str(tuple((c.out_channels, c.kernel, c.layer_norm) for c in model.cfg.decoder_conv)),
    )
    fake_pkg = types.ModuleType("fairseq")
    meters = _fake_fairseq_meter_module()
    sys.modules["fairseq"], sys.modules["fairseq.meters"] = fake_pkg, meters
    try:
        torch.save(
            {"args": args, "model": sd, "optimizer_history": [], "last_optimizer_state": {},
             "extra_state": {"train_meters": {"loss": meters.AverageMeter()}}},
            path,
        )
    finally:
        del sys.modules["fairseq"], sys.modules["fairseq.meters"]


def test_eval_config_string() -> None:
    assert eval_config_string("((1024, 16, 4096, True, 0.15, 0.15, 0.15),) * 2") == ((1024, 16, 4096, True, 0.15, 0.15, 0.15),) * 2
    assert eval_config_string("[(64, 3, 2, 2, True), (128, 3, 2, 2, True)]") == [(64, 3, 2, 2, True), (128, 3, 2, 2, True)]
    assert eval_config_string("((256, 3, True),) * 4") == ((256, 3, True),) * 4
    assert eval_config_string("(-1, 5)") == (-1, 5)
    with pytest.raises(ValueError):
        eval_config_string("__import__('os')")


def test_in_proj_key_counts_match_spec() -> None:
    with no_init():
        sd = build_model("vggtransformer_2", 5001).state_dict()
    merged = merge_in_proj(sd)
    assert len(sd) == 459 and len(merged) == 347
    assert merged["decoder.layers.3.encoder_attn.in_proj_weight"].shape == (3072, 1024)
    back = split_in_proj(merged)
    assert set(back) == set(sd)
    assert all(torch.equal(back[k].view(torch.int32), sd[k].view(torch.int32)) for k in sd)  # bitwise (uninitialised)


@pytest.mark.parametrize("in_proj", [False, True])
def test_round_trip_both_key_generations(tmp_path: Path, in_proj: bool) -> None:
    torch.manual_seed(0)
    src = build_model("tiny", 30).eval()
    path = tmp_path / "checkpoint_best.pt"
    _save_fairseq_like(src, path, in_proj)
    (tmp_path / "dict.txt").write_text("".join(f"p{i} {100 - i}\n" for i in range(26)))
    model, dictionary = import_checkpoint(path, tmp_path / "dict.txt")
    assert _no_dropout(model.cfg) == _no_dropout(src.cfg)
    assert model.cfg.encoder_layers[0].dropout == 0.15  # taken from the args
    for k, v in src.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    x, lengths = torch.randn(1, 30, 80), torch.tensor([30])
    prev = torch.tensor([[2, 7, 8]])
    assert torch.allclose(model(x, lengths, prev), src(x, lengths, prev))
    assert dictionary is not None and dictionary.symbols[:5] == ["<s>", "<pad>", "</s>", "<unk>", "p0"]
    assert dictionary.string([4, 5, 2]) == "p0p1"


def test_hydra_cfg_and_vocab_mismatch(tmp_path: Path) -> None:
    src = build_model("tiny", 12)
    ck = {"args": None, "cfg": {"model": {"transformer_enc_config": "((96, 3, 192, True, 0.1, 0.1, 0.1),) * 2"}}, "model": src.state_dict()}
    assert checkpoint_args(ck)["transformer_enc_config"].startswith("((96, 3")
    cfg = infer_config(src.state_dict(), checkpoint_args(ck))
    assert [l.heads for l in cfg.encoder_layers] == [3, 3]
    torch.save(ck, tmp_path / "c.pt")
    (tmp_path / "dict.txt").write_text("a 1\nb 1\n")
    with pytest.raises(ValueError):
        import_checkpoint(tmp_path / "c.pt", tmp_path / "dict.txt")


def test_folded_conv_weight_is_accepted() -> None:
    src = build_model("tiny", 20).eval()
    sd = dict(src.state_dict())
    conv = src.decoder.conv_layers[0]
    sd.pop("decoder.conv_layers.0.weight_v")
    sd.pop("decoder.conv_layers.0.weight_g")
    sd["decoder.conv_layers.0.weight"] = conv.weight().detach()
    from qasr.fairseq_import import import_state_dict

    m = import_state_dict(sd)
    assert torch.allclose(m.decoder.conv_layers[0].weight(), conv.weight(), atol=1e-6)


def test_named_config_inferred_from_shapes() -> None:
    with no_init():
        sd = build_model("vggtransformer_1", 5001).state_dict()
    assert infer_config(sd) == _no_dropout(get_config("vggtransformer_1", 5001))

"""Named configs (parameter counts, fairseq keys) and forward shapes of qasr.model."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, Iterator, Tuple

import pytest
import torch
from torch import nn

from qasr.model import (
    CONFIG_NAMES,
    VGGTransformer,
    VGGTransformerConfig,
    build_model,
    encoder_lengths,
    get_config,
    num_params,
)

SPEC_TOTALS = {"vggtransformer_1": 254_188_969, "vggtransformer_2": 315_190_057, "vggtransformer_base": 71_131_945}
SPEC_KEY_COUNTS = {"vggtransformer_1": 375, "vggtransformer_2": 459, "vggtransformer_base": 395}


@contextmanager
def no_init() -> Iterator[None]:
    """Skips the (slow, irrelevant here) random initialisation of big models."""
    saved = (nn.Linear.reset_parameters, nn.Conv2d.reset_parameters, nn.Embedding.reset_parameters)
    nn.Linear.reset_parameters = lambda self: None  # type: ignore[assignment]
    nn.Conv2d.reset_parameters = lambda self: None  # type: ignore[assignment]
    nn.Embedding.reset_parameters = lambda self: None  # type: ignore[assignment]
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Conv2d.reset_parameters, nn.Embedding.reset_parameters = saved


def spec_v2_keys(v: int) -> Dict[str, Tuple[int, ...]]:
    """The complete key list of spec §4.3 (vggtransformer_2, q/k/v naming)."""
    keys: Dict[str, Tuple[int, ...]] = {}
    for b, (cin, c, f) in enumerate([(1, 64, 80), (64, 128, 40)]):
        p = f"encoder.conv_layers.{b}.layers."
        keys.update({p + "0.weight": (c, cin, 3, 3), p + "0.bias": (c,), p + "1.weight": (f,), p + "1.bias": (f,)})
        keys.update({p + "3.weight": (c, c, 3, 3), p + "3.bias": (c,), p + "4.weight": (f,), p + "4.bias": (f,)})
    keys["encoder.transformer_layers.0.weight"] = (1024, 2560)
    keys["encoder.transformer_layers.0.bias"] = (1024,)

    def attn(prefix: str) -> None:
        for proj in ("k_proj", "v_proj", "q_proj", "out_proj"):
            keys[f"{prefix}.{proj}.weight"] = (1024, 1024)
            keys[f"{prefix}.{proj}.bias"] = (1024,)
        keys[f"{prefix}_layer_norm.weight"] = (1024,)
        keys[f"{prefix}_layer_norm.bias"] = (1024,)

    def ffn(prefix: str) -> None:
        keys.update({prefix + "fc1.weight": (4096, 1024), prefix + "fc1.bias": (4096,)})
        keys.update({prefix + "fc2.weight": (1024, 4096), prefix + "fc2.bias": (1024,)})
        keys.update({prefix + "final_layer_norm.weight": (1024,), prefix + "final_layer_norm.bias": (1024,)})

    for layer in range(1, 17):
        p = f"encoder.transformer_layers.{layer}."
        attn(p + "self_attn")
        ffn(p)
    keys.update({"encoder.transformer_layers.17.weight": (1024, 1024), "encoder.transformer_layers.17.bias": (1024,)})
    keys.update({"encoder.transformer_layers.18.weight": (1024,), "encoder.transformer_layers.18.bias": (1024,)})
    keys["decoder.embed_tokens.weight"] = (v, 512)
    for i, cin in zip((0, 3, 6, 9), (512, 256, 256, 256)):
        keys[f"decoder.conv_layers.{i}.bias"] = (256,)
        keys[f"decoder.conv_layers.{i}.weight_g"] = (1, 1, 256)
        keys[f"decoder.conv_layers.{i}.weight_v"] = (3, cin, 256)
        keys[f"decoder.conv_layers.{i + 1}.weight"] = (256,)
        keys[f"decoder.conv_layers.{i + 1}.bias"] = (256,)
    keys.update({"decoder.layers.0.weight": (1024, 256), "decoder.layers.0.bias": (1024,)})
    for layer in range(1, 7):
        p = f"decoder.layers.{layer}."
        attn(p + "self_attn")
        attn(p + "encoder_attn")
        ffn(p)
    keys.update({"decoder.fc_out.weight": (v, 1024), "decoder.fc_out.bias": (v,)})
    return keys


@pytest.mark.parametrize("name", sorted(SPEC_TOTALS))
def test_named_fairseq_configs_match_spec_counts(name: str) -> None:
    with no_init():
        m = build_model(name, 5001)
    assert num_params(m) == SPEC_TOTALS[name]
    assert len(m.state_dict()) == SPEC_KEY_COUNTS[name]


def test_v2_state_dict_keys_and_shapes_equal_spec() -> None:
    with no_init():
        m = build_model("vggtransformer_2", 5001)
    ours = {k: tuple(t.shape) for k, t in m.state_dict().items()}
    assert ours == spec_v2_keys(5001)
    assert list(ours)[:4] == list(spec_v2_keys(5001))[:4]


def test_own_configs_sizes() -> None:
    assert 5e6 <= num_params(build_model("small", 500)) <= 12e6
    assert num_params(build_model("tiny", 500)) < 1e6
    assert set(CONFIG_NAMES) >= {"vggtransformer_1", "vggtransformer_2", "vggtransformer_base", "small", "tiny"}


def test_config_dict_round_trip() -> None:
    cfg = get_config("vggtransformer_1", 77)
    assert VGGTransformerConfig.from_dict(cfg.to_dict()) == cfg


def test_forward_shapes_and_padding_mask() -> None:
    torch.manual_seed(0)
    m = build_model("tiny", 50).eval()
    x = torch.randn(3, 37, 80)
    lengths = torch.tensor([37, 30, 9])
    enc, mask = m.encoder(x, lengths)
    assert enc.shape == (3, 10, 96)  # ceil(ceil(37/2)/2) = 10
    assert encoder_lengths(lengths, m.cfg.vgg).tolist() == [10, 8, 3]
    assert mask is not None and mask.sum(1).tolist() == [0, 2, 7]
    prev = torch.tensor([[2, 5, 6, 7], [2, 8, 1, 1], [2, 9, 9, 1]])
    logits = m(x, lengths, prev)
    assert logits.shape == (3, 4, 50)
    enc1, mask1 = m.encoder(x[:1], lengths[:1])
    assert mask1 is None
    assert torch.allclose(enc1[0], enc[0], atol=1e-5)


def test_decoder_is_causal() -> None:
    torch.manual_seed(0)
    m = build_model("tiny", 50).eval()
    x = torch.randn(1, 40, 80)
    lengths = torch.tensor([40])
    a = m(x, lengths, torch.tensor([[2, 5, 6, 7, 8]]))
    b = m(x, lengths, torch.tensor([[2, 5, 6, 9, 11]]))
    assert torch.allclose(a[0, :3], b[0, :3], atol=1e-5)
    assert not torch.allclose(a[0, 3], b[0, 3])


def test_bf16_autocast_runs_with_fp32_layernorm() -> None:
    torch.manual_seed(0)
    m: VGGTransformer = build_model("tiny", 50).eval()
    x = torch.randn(2, 20, 80)
    lengths = torch.tensor([20, 16])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        enc, _ = m.encoder(x, lengths)
    assert enc.dtype == torch.float32  # final LayerNorm output stays fp32
    ref, _ = m.encoder(x, lengths)
    assert (enc - ref).abs().max() < 0.2

"""Reference VGGTransformer (fairseq ``asr_vggtransformer``, spec docs/vggtransformer.md).

Re-implemented from the prose spec; module names and parameter layouts reproduce fairseq's
state_dict keys (§4) so fairseq checkpoints load with only the weight-norm / in_proj
conversions of :mod:`qasr.fairseq_import`.

Layout: batch-first everywhere ((B, T, C)); encoder padding masks are (B, T') booleans with
True at padded positions.  Incremental decoding keeps per-layer caches in a plain dict
(see :class:`DecoderState`) that beam search reorders with :meth:`Decoder.reorder_state`.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BOS_ID = 0
PAD_ID = 1
EOS_ID = 2
UNK_ID = 3


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class VGGBlockConfig:
    """One VGG block: (out_channels, conv_kernel, pool_kernel, num_conv_layers, layer_norm)."""

    out_channels: int
    conv_kernel: int = 3
    pool_kernel: int = 2
    num_conv_layers: int = 2
    layer_norm: bool = True


@dataclass(frozen=True)
class TransformerLayerConfig:
    """(d_model, heads, ffn_dim, normalize_before, dropout, attention_dropout, relu_dropout)."""

    d_model: int
    heads: int
    ffn_dim: int
    normalize_before: bool = True
    dropout: float = 0.15
    attention_dropout: float = 0.15
    relu_dropout: float = 0.15


@dataclass(frozen=True)
class ConvDecConfig:
    """One causal decoder convolution: (out_channels, kernel, layer_norm)."""

    out_channels: int = 256
    kernel: int = 3
    layer_norm: bool = True


@dataclass
class VGGTransformerConfig:
    """Full model configuration (fairseq argument names in the comments)."""

    vocab_size: int = 5001
    input_feat: int = 80  # input_feat_per_channel
    in_channels: int = 1
    vgg: Tuple[VGGBlockConfig, ...] = (VGGBlockConfig(64), VGGBlockConfig(128))  # vggblock_enc_config
    encoder_layers: Tuple[TransformerLayerConfig, ...] = ()  # transformer_enc_config
    enc_output_dim: int = 512
    tgt_embed_dim: int = 512
    decoder_conv: Tuple[ConvDecConfig, ...] = (ConvDecConfig(),) * 4  # conv_dec_config
    decoder_layers: Tuple[TransformerLayerConfig, ...] = ()  # transformer_dec_config

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested dict (JSON/pickle friendly)."""
        return asdict(self)

    @staticmethod
    def from_dict(d: Dict[str, Any]) -> "VGGTransformerConfig":
        """Inverse of :meth:`to_dict`."""
        return VGGTransformerConfig(
            vocab_size=int(d["vocab_size"]),
            input_feat=int(d["input_feat"]),
            in_channels=int(d["in_channels"]),
            vgg=tuple(VGGBlockConfig(**b) for b in d["vgg"]),
            encoder_layers=tuple(TransformerLayerConfig(**l) for l in d["encoder_layers"]),
            enc_output_dim=int(d["enc_output_dim"]),
            tgt_embed_dim=int(d["tgt_embed_dim"]),
            decoder_conv=tuple(ConvDecConfig(**c) for c in d["decoder_conv"]),
            decoder_layers=tuple(TransformerLayerConfig(**l) for l in d["decoder_layers"]),
        )


def _layers(d: int, h: int, ffn: int, n: int, drop: float) -> Tuple[TransformerLayerConfig, ...]:
    return (TransformerLayerConfig(d, h, ffn, True, drop, drop, drop),) * n


def _fairseq_arch(enc: int, dec: int, d: int, h: int, ffn: int, embed: int, vocab: int) -> VGGTransformerConfig:
    return VGGTransformerConfig(
        vocab_size=vocab,
        encoder_layers=_layers(d, h, ffn, enc, 0.15),
        enc_output_dim=d,
        tgt_embed_dim=embed,
        decoder_layers=_layers(d, h, ffn, dec, 0.15),
    )


def get_config(name: str, vocab_size: int = 5001) -> VGGTransformerConfig:
    """Named configurations: fairseq's three seq2seq archs plus qasr's ``small`` and ``tiny``.

    ``small`` was chosen by measured step time on a 2-core CPU (docs/MODEL_CARD.md):
    narrower VGG (16, 32) (the full-resolution convolutions dominate CPU time otherwise),
    d=256 / 4 heads / ffn 1024, 8 encoder and 3 decoder layers (10.8 M params at V=500).
    ``tiny`` trains in about a minute and is used by the tests.
    """
    v = vocab_size
    if name == "vggtransformer_1":
        return _fairseq_arch(14, 4, 1024, 16, 4096, 128, v)
    if name == "vggtransformer_2":
        return _fairseq_arch(16, 6, 1024, 16, 4096, 512, v)
    if name == "vggtransformer_base":
        return _fairseq_arch(12, 6, 512, 8, 2048, 512, v)
    if name == "small":
        return VGGTransformerConfig(
            vocab_size=v,
            vgg=(VGGBlockConfig(16), VGGBlockConfig(32)),
            encoder_layers=_layers(256, 4, 1024, 8, 0.1),
            enc_output_dim=256,
            tgt_embed_dim=256,
            decoder_conv=(ConvDecConfig(256, 3, True),) * 4,
            decoder_layers=_layers(256, 4, 1024, 3, 0.1),
        )
    if name == "tiny":
        return VGGTransformerConfig(
            vocab_size=v,
            vgg=(VGGBlockConfig(8), VGGBlockConfig(16)),
            encoder_layers=_layers(96, 2, 192, 2, 0.0),
            enc_output_dim=96,
            tgt_embed_dim=64,
            decoder_conv=(ConvDecConfig(64, 3, True),) * 2,
            decoder_layers=_layers(96, 2, 192, 1, 0.0),
        )
    raise KeyError(f"unknown model config {name!r}")


CONFIG_NAMES = ("vggtransformer_1", "vggtransformer_2", "vggtransformer_base", "small", "tiny")


# ----------------------------------------------------------------------------- building blocks


class Fp32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 even under (bf16) autocast; same keys as nn.LayerNorm."""

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        with torch.autocast(device_type="cpu", enabled=False):
            y = F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)
        return y


class VGGBlock(nn.Module):
    """Conv2d → LayerNorm(freq) → ReLU, repeated, then ceil-mode max pooling (spec §2.1)."""

    def __init__(self, in_channels: int, cfg: VGGBlockConfig, freq_dim: int) -> None:
        super().__init__()
        mods: List[nn.Module] = []
        c = in_channels
        for _ in range(cfg.num_conv_layers):
            mods.append(nn.Conv2d(c, cfg.out_channels, cfg.conv_kernel, padding=cfg.conv_kernel // 2))
            if cfg.layer_norm:
                mods.append(Fp32LayerNorm(freq_dim))
            mods.append(nn.ReLU())
            c = cfg.out_channels
        mods.append(nn.MaxPool2d(cfg.pool_kernel, stride=cfg.pool_kernel, ceil_mode=True))
        self.layers = nn.Sequential(*mods)
        self.out_freq = math.ceil(freq_dim / cfg.pool_kernel)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D102
        return self.layers(x)


class MultiheadAttention(nn.Module):
    """Multi-head attention with separate q/k/v/out projections (fairseq ≥0.9 key names).

    Query scaling 1/sqrt(head_dim) after projection; masks use −inf; probabilities in fp32.
    """

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        assert d_model % heads == 0, "d_model must be divisible by heads"
        self.d_model, self.heads, self.head_dim = d_model, heads, d_model // heads
        self.scaling = self.head_dim**-0.5
        self.dropout = dropout
        # registration order matches fairseq's state_dict order (k, v, q, out)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.q_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def split(self, x: Tensor) -> Tensor:
        """(B, T, D) → (B, H, T, hd)."""
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)

    def attend(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        key_padding_mask: Optional[Tensor] = None,
        attn_mask: Optional[Tensor] = None,
    ) -> Tensor:
        """Attention over already projected/split heads; q (B,H,Tq,hd), k/v (B,H,Tk,hd)."""
        scores = torch.matmul(q * self.scaling, k.transpose(-1, -2)).float()
        if attn_mask is not None:
            scores = scores + attn_mask
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        probs = F.dropout(probs, self.dropout, self.training)
        out = torch.matmul(probs, v)  # (B, H, Tq, hd)
        b, _, tq, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, tq, self.d_model))

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        key_padding_mask: Optional[Tensor] = None,
        attn_mask: Optional[Tensor] = None,
    ) -> Tensor:
        """Full (non-cached) attention; query (B, Tq, D), key=value (B, Tk, D)."""
        q = self.split(self.q_proj(query))
        k = self.split(self.k_proj(key))
        v = self.split(self.v_proj(key))
        return self.attend(q, k, v, key_padding_mask, attn_mask)


class EncoderLayer(nn.Module):
    """Pre-LN (or post-LN) transformer encoder layer with ReLU FFN (spec §2.2)."""

    def __init__(self, cfg: TransformerLayerConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.normalize_before = cfg.normalize_before
        self.dropout, self.relu_dropout = cfg.dropout, cfg.relu_dropout
        self.self_attn = MultiheadAttention(d, cfg.heads, cfg.attention_dropout)
        self.self_attn_layer_norm = Fp32LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, d)
        self.final_layer_norm = Fp32LayerNorm(d)

    def ffn(self, x: Tensor) -> Tensor:
        """FFN with relu dropout (the residual dropout is applied by the caller)."""
        h = F.dropout(F.relu(self.fc1(x)), self.relu_dropout, self.training)
        return F.dropout(self.fc2(h), self.dropout, self.training)

    def forward(self, x: Tensor, pad_mask: Optional[Tensor]) -> Tensor:  # noqa: D102
        pre = self.normalize_before
        h = self.self_attn_layer_norm(x) if pre else x
        h = self.self_attn(h, h, pad_mask)
        x = x + F.dropout(h, self.dropout, self.training)
        if not pre:
            x = self.self_attn_layer_norm(x)
        h = self.final_layer_norm(x) if pre else x
        x = x + self.ffn(h)
        if not pre:
            x = self.final_layer_norm(x)
        return x


def encoder_lengths(lengths: Tensor, vgg: Sequence[VGGBlockConfig]) -> Tensor:
    """Valid encoder steps per utterance: ceil-divide by each block's pool size."""
    out = lengths.clone()
    for b in vgg:
        out = torch.div(out + b.pool_kernel - 1, b.pool_kernel, rounding_mode="floor")
    return out


class Encoder(nn.Module):
    """VGG front-end + Linear adapter + transformer layers + Linear + LayerNorm (spec §2)."""

    def __init__(self, cfg: VGGTransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv_layers = nn.ModuleList()
        c, f = cfg.in_channels, cfg.input_feat
        for b in cfg.vgg:
            blk = VGGBlock(c, b, f)
            self.conv_layers.append(blk)
            c, f = b.out_channels, blk.out_freq
        width = c * f
        self.transformer_layers = nn.ModuleList()
        for lc in cfg.encoder_layers:
            if width != lc.d_model:
                self.transformer_layers.append(nn.Linear(width, lc.d_model))
            self.transformer_layers.append(EncoderLayer(lc))
            width = lc.d_model
        self.transformer_layers.append(nn.Linear(width, cfg.enc_output_dim))
        self.transformer_layers.append(Fp32LayerNorm(cfg.enc_output_dim))

    def forward(self, feats: Tensor, lengths: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """feats (B, T, F·C) zero-padded, lengths (B,) → (B, T', D), pad mask (B, T') or None."""
        b, t, _ = feats.shape
        x = feats.view(b, t, self.cfg.in_channels, self.cfg.input_feat).transpose(1, 2)
        for blk in self.conv_layers:
            x = blk(x)
        b, c, t2, f = x.shape
        x = x.permute(0, 2, 1, 3).reshape(b, t2, c * f)  # channel-major flattening
        enc_len = encoder_lengths(lengths, self.cfg.vgg)
        pad = torch.arange(t2, device=x.device)[None, :] >= enc_len[:, None]
        mask: Optional[Tensor] = pad if bool(pad.any()) else None
        for layer in self.transformer_layers:
            x = layer(x, mask) if isinstance(layer, EncoderLayer) else layer(x)
        return x, mask


class CausalConv1d(nn.Module):
    """fairseq ``LinearizedConv1d`` with weight norm: weight_v (K, in, out), weight_g (1, 1, out).

    Effective weight W[k, i, o] = g[o] · v[k, i, o] / ||v[:, :, o]||; W[K-1] multiplies the
    current step.  :meth:`weight` folds the norm; the export uses it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.bias = nn.Parameter(torch.zeros(out_channels))
        v = torch.randn(kernel, in_channels, out_channels) * math.sqrt(4.0 / (kernel * in_channels))
        self.weight_g = nn.Parameter(v.norm(dim=(0, 1), keepdim=True))
        self.weight_v = nn.Parameter(v)

    def weight(self) -> Tensor:
        """Folded weight (K, in, out)."""
        return self.weight_g * self.weight_v / self.weight_v.norm(dim=(0, 1), keepdim=True)

    def forward(self, x: Tensor) -> Tensor:
        """Causal convolution over (B, U, in) → (B, U, out); zero history before step 0."""
        w = self.weight().permute(2, 1, 0)  # (out, in, K)
        y = F.conv1d(F.pad(x.transpose(1, 2), (self.kernel - 1, 0)), w.to(x.dtype), self.bias.to(x.dtype))
        return y.transpose(1, 2)

    def step(self, window: Tensor) -> Tensor:
        """One incremental step from the last K inputs ``window`` (B, K, in) → (B, out)."""
        w = self.weight().to(window.dtype)
        return torch.einsum("bki,kio->bo", window, w) + self.bias.to(window.dtype)


class DecoderLayer(nn.Module):
    """Pre-LN decoder layer: causal self-attention, cross-attention, ReLU FFN (spec §3.4)."""

    def __init__(self, cfg: TransformerLayerConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.normalize_before = cfg.normalize_before
        self.dropout, self.relu_dropout = cfg.dropout, cfg.relu_dropout
        self.self_attn = MultiheadAttention(d, cfg.heads, cfg.attention_dropout)
        self.self_attn_layer_norm = Fp32LayerNorm(d)
        self.encoder_attn = MultiheadAttention(d, cfg.heads, cfg.attention_dropout)
        self.encoder_attn_layer_norm = Fp32LayerNorm(d)
        self.fc1 = nn.Linear(d, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, d)
        self.final_layer_norm = Fp32LayerNorm(d)

    def _block(self, x: Tensor, ln: nn.Module, fn: Any) -> Tensor:
        h = ln(x) if self.normalize_before else x
        x = x + F.dropout(fn(h), self.dropout, self.training)
        return x if self.normalize_before else ln(x)

    def _ffn(self, h: Tensor) -> Tensor:
        return self.fc2(F.dropout(F.relu(self.fc1(h)), self.relu_dropout, self.training))

    def forward(
        self,
        x: Tensor,
        enc: Tensor,
        enc_mask: Optional[Tensor],
        causal: Tensor,
        tgt_pad: Optional[Tensor],
    ) -> Tensor:
        """Full-sequence forward; x (B, U, D)."""
        x = self._block(x, self.self_attn_layer_norm, lambda h: self.self_attn(h, h, tgt_pad, causal))
        x = self._block(x, self.encoder_attn_layer_norm, lambda h: self.encoder_attn(h, enc, enc_mask))
        return self._block(x, self.final_layer_norm, self._ffn)

    def step(self, x: Tensor, cache: Dict[str, Tensor], enc_mask: Optional[Tensor]) -> Tensor:
        """One incremental step; x (B, 1, D); ``cache`` holds self k/v and cross k/v."""

        def self_attn(h: Tensor) -> Tensor:
            a = self.self_attn
            k, v = a.split(a.k_proj(h)), a.split(a.v_proj(h))
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
            return a.attend(a.split(a.q_proj(h)), k, v)

        def cross_attn(h: Tensor) -> Tensor:
            a = self.encoder_attn
            return a.attend(a.split(a.q_proj(h)), cache["ek"], cache["ev"], enc_mask)

        x = self._block(x, self.self_attn_layer_norm, self_attn)
        x = self._block(x, self.encoder_attn_layer_norm, cross_attn)
        return self._block(x, self.final_layer_norm, self._ffn)


DecoderState = Dict[str, Any]


class Decoder(nn.Module):
    """Embedding → causal weight-normed convs (+LN, ReLU) → Linear → layers → fc_out (spec §3)."""

    def __init__(self, cfg: VGGTransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.tgt_embed_dim, padding_idx=PAD_ID)
        self.conv_layers = nn.ModuleList()
        c = cfg.tgt_embed_dim
        for cc in cfg.decoder_conv:
            self.conv_layers.append(CausalConv1d(c, cc.out_channels, cc.kernel))
            if cc.layer_norm:
                self.conv_layers.append(Fp32LayerNorm(cc.out_channels))
            self.conv_layers.append(nn.ReLU())
            c = cc.out_channels
        self.layers = nn.ModuleList()
        for lc in cfg.decoder_layers:
            if c != lc.d_model:
                self.layers.append(nn.Linear(c, lc.d_model))
            self.layers.append(DecoderLayer(lc))
            c = lc.d_model
        self.fc_out = nn.Linear(c, cfg.vocab_size)

    def forward(self, prev_tokens: Tensor, enc: Tensor, enc_mask: Optional[Tensor]) -> Tensor:
        """Teacher-forced logits (B, U, V) for ``prev_tokens`` (B, U) (EOS-started, PAD-padded)."""
        x = self.embed_tokens(prev_tokens)
        for m in self.conv_layers:
            x = m(x)
        u = prev_tokens.size(1)
        causal = torch.triu(torch.full((u, u), float("-inf"), device=x.device), diagonal=1)
        tgt_pad = prev_tokens.eq(PAD_ID)
        tgt_mask: Optional[Tensor] = tgt_pad if bool(tgt_pad.any()) else None
        for layer in self.layers:
            x = layer(x, enc, enc_mask, causal, tgt_mask) if isinstance(layer, DecoderLayer) else layer(x)
        return self.fc_out(x)

    def init_state(self, enc: Tensor, enc_mask: Optional[Tensor]) -> DecoderState:
        """Incremental-decoding state: zero conv histories and precomputed cross-attn k/v."""
        b = enc.size(0)
        conv_hist: List[Tensor] = []
        c = self.cfg.tgt_embed_dim
        for m in self.conv_layers:
            if isinstance(m, CausalConv1d):
                conv_hist.append(enc.new_zeros(b, m.kernel - 1, c))
                c = m.weight_v.size(2)
        layers: List[Dict[str, Tensor]] = []
        for layer in self.layers:
            if isinstance(layer, DecoderLayer):
                a = layer.encoder_attn
                layers.append({"ek": a.split(a.k_proj(enc)), "ev": a.split(a.v_proj(enc))})
        return {"conv": conv_hist, "layers": layers, "enc_mask": enc_mask}

    def step(self, tokens: Tensor, state: DecoderState) -> Tensor:
        """Logits (B, V) for the next token given the last tokens (B,); updates ``state``."""
        x = self.embed_tokens(tokens)  # (B, E)
        ci = 0
        for m in self.conv_layers:
            if isinstance(m, CausalConv1d):
                window = torch.cat([state["conv"][ci], x[:, None, :]], dim=1)
                state["conv"][ci] = window[:, 1:]
                x = m.step(window)
                ci += 1
            else:
                x = m(x)
        x = x[:, None, :]
        li = 0
        for layer in self.layers:
            if isinstance(layer, DecoderLayer):
                x = layer.step(x, state["layers"][li], state["enc_mask"])
                li += 1
            else:
                x = layer(x)
        return self.fc_out(x[:, 0])

    @staticmethod
    def reorder_state(state: DecoderState, order: Tensor) -> DecoderState:
        """Selects batch rows ``order`` of every cached tensor (beam search)."""
        mask = state["enc_mask"]
        return {
            "conv": [h.index_select(0, order) for h in state["conv"]],
            "layers": [{k: t.index_select(0, order) for k, t in c.items()} for c in state["layers"]],
            "enc_mask": None if mask is None else mask.index_select(0, order),
        }


class VGGTransformer(nn.Module):
    """Encoder-decoder model; ``state_dict`` keys follow fairseq (spec §4)."""

    def __init__(self, cfg: VGGTransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)

    def forward(self, feats: Tensor, lengths: Tensor, prev_tokens: Tensor) -> Tensor:
        """Teacher-forced logits (B, U, V)."""
        enc, mask = self.encoder(feats, lengths)
        return self.decoder(prev_tokens, enc, mask)


def build_model(name_or_cfg: Any, vocab_size: int = 5001) -> VGGTransformer:
    """Builds a model from a config name or a :class:`VGGTransformerConfig`."""
    cfg = name_or_cfg if isinstance(name_or_cfg, VGGTransformerConfig) else get_config(name_or_cfg, vocab_size)
    return VGGTransformer(cfg)


def num_params(model: nn.Module) -> int:
    """Number of trainable parameters (weight-normed convs count v and g)."""
    return sum(p.numel() for p in model.parameters())


def with_vocab(cfg: VGGTransformerConfig, vocab_size: int) -> VGGTransformerConfig:
    """Copy of ``cfg`` with another vocabulary size."""
    return replace(cfg, vocab_size=vocab_size)

"""Import of fairseq ``asr_vggtransformer`` checkpoints (spec §4) into :mod:`qasr.model`.

Handles both key generations (v0.8.x ``in_proj_weight/bias`` with rows ordered q, k, v, and
≥v0.9 ``q_proj/k_proj/v_proj``), weight-normed decoder convolutions (``weight_v``/``weight_g``
kept as they are; an already folded ``weight`` is re-parameterised), argparse ``args`` or Hydra
``cfg`` metadata whose config fields are Python-expression strings such as
``"((1024, 16, 4096, True, 0.15, 0.15, 0.15),) * 16"``, and pickles that reference fairseq /
omegaconf classes (stubbed, so fairseq need not be installed).  The architecture is inferred
from tensor shapes; only the head count and pool sizes come from the metadata (default: head
dim 64, pool 2).  The dictionary order comes from the ``dict.txt`` shipped with the model.
"""
from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import re
import sys
import types
from contextlib import contextmanager
from argparse import Namespace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .model import ConvDecConfig, TransformerLayerConfig, VGGBlockConfig, VGGTransformer, VGGTransformerConfig
from .tokenizer import Dictionary

_STUB_PREFIXES = ("fairseq", "omegaconf", "hydra", "examples")


class _Stub:
    """Placeholder for an unpicklable fairseq/omegaconf object; keeps its state as a dict."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> "_Stub":
        return _Stub(*args)


class _StubModule(types.ModuleType):
    """Module whose every attribute is a fresh :class:`_Stub` subclass (cached)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        cls = type(name, (_Stub,), {"__module__": self.__name__})
        setattr(self, name, cls)
        return cls


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook (appended last, so real packages win) that fabricates fairseq/omegaconf modules.

    torch 1.13's ``torch.load`` ignores its ``pickle_module`` argument when ``weights_only`` is
    off, so a custom ``Unpickler.find_class`` cannot be used; stub modules work on every version.
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:  # noqa: D102
        if fullname.split(".")[0] in _STUB_PREFIXES:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:  # noqa: D102
        mod = _StubModule(spec.name)
        mod.__path__ = []  # type: ignore[attr-defined]
        return mod

    def exec_module(self, module: types.ModuleType) -> None:  # noqa: D102
        return None


@contextmanager
def _stubbed_imports() -> Iterator[None]:
    finder = _StubFinder()
    before = set(sys.modules)
    sys.meta_path.append(finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in set(sys.modules) - before:
            if isinstance(sys.modules[name], _StubModule):
                del sys.modules[name]


def load_checkpoint(path: Union[str, Path]) -> Dict[str, Any]:
    """torch.load of a fairseq checkpoint; fairseq/omegaconf classes are stubbed if absent."""
    with _stubbed_imports():
        return torch.load(str(path), map_location="cpu")


def eval_config_string(s: Any) -> Any:
    """Evaluates a fairseq config expression: literals, tuples/lists, ``(...) * n``, ``+``."""
    if not isinstance(s, str):
        return s

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            vals = [ev(e) for e in node.elts]
            return tuple(vals) if isinstance(node, ast.Tuple) else vals
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)):
            a, b = ev(node.left), ev(node.right)
            return a * b if isinstance(node.op, ast.Mult) else a + b
        if isinstance(node, ast.Name) and node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        raise ValueError(f"unsupported config expression: {ast.dump(node)}")

    return ev(ast.parse(s.strip(), mode="eval"))


def checkpoint_args(ck: Dict[str, Any]) -> Dict[str, Any]:
    """Model arguments from ``args`` (argparse) or ``cfg['model']`` (Hydra), as a dict."""
    src: Any = ck.get("args")
    if src is None and isinstance(ck.get("cfg"), dict):
        src = ck["cfg"].get("model")
    if src is None:
        return {}
    if isinstance(src, Namespace):
        return vars(src)
    if isinstance(src, dict):
        return dict(src)
    if isinstance(src, _Stub):
        state = getattr(src, "state", None)
        if isinstance(state, dict):
            content = state.get("_content", state)
            return {k: getattr(v, "state", {}).get("_val", v) if isinstance(v, _Stub) else v for k, v in content.items()}
    return dict(getattr(src, "__dict__", {}))


def split_in_proj(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Converts v0.8.x ``in_proj_weight/bias`` (rows q, k, v) to q/k/v_proj keys."""
    out: Dict[str, Tensor] = {}
    for k, v in sd.items():
        m = re.match(r"(.*)\.in_proj_(weight|bias)$", k)
        if not m:
            out[k] = v
            continue
        d = v.size(0) // 3
        for i, name in enumerate(("q_proj", "k_proj", "v_proj")):
            out[f"{m.group(1)}.{name}.{m.group(2)}"] = v[i * d : (i + 1) * d].clone()
    return out


def merge_in_proj(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Inverse of :func:`split_in_proj` (writes the 2019 key generation; used by tests)."""
    out: Dict[str, Tensor] = {}
    for k, v in sd.items():
        m = re.match(r"(.*)\.(q|k|v)_proj\.(weight|bias)$", k)
        if not m:
            out[k] = v
            continue
        if m.group(2) == "q":
            p, kind = m.group(1), m.group(3)
            out[f"{p}.in_proj_{kind}"] = torch.cat([sd[f"{p}.{x}_proj.{kind}"] for x in "qkv"], dim=0)
    return out


def unfold_conv_weights(sd: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Re-parameterises folded decoder conv ``weight`` (K, in, out) as weight_v / weight_g."""
    out = dict(sd)
    for k in list(sd):
        m = re.match(r"(decoder\.conv_layers\.\d+)\.weight$", k)
        if m and sd[k].dim() == 3:
            w = out.pop(k)
            out[f"{m.group(1)}.weight_v"] = w
            out[f"{m.group(1)}.weight_g"] = w.norm(dim=(0, 1), keepdim=True)
    return out


def _layer_cfg(sd: Dict[str, Tensor], prefix: str, heads: Optional[int], drop: Tuple[float, float, float]) -> TransformerLayerConfig:
    ffn, d = sd[prefix + "fc1.weight"].shape
    return TransformerLayerConfig(int(d), int(heads or d // 64), int(ffn), True, *drop)


def _indices(sd: Dict[str, Tensor], prefix: str) -> List[int]:
    return sorted({int(k[len(prefix) :].split(".")[0]) for k in sd if k.startswith(prefix)})


def infer_config(sd: Dict[str, Tensor], args: Optional[Dict[str, Any]] = None) -> VGGTransformerConfig:
    """Builds the model config from tensor shapes (+ heads / pools / pre-LN from ``args``)."""
    args = args or {}
    enc_tf = eval_config_string(args.get("transformer_enc_config")) or ()
    dec_tf = eval_config_string(args.get("transformer_dec_config")) or ()
    vgg_arg = eval_config_string(args.get("vggblock_enc_config")) or ()
    vgg: List[VGGBlockConfig] = []
    in_ch, feat = 1, int(args.get("input_feat_per_channel", 80))
    for b in _indices(sd, "encoder.conv_layers."):
        p = f"encoder.conv_layers.{b}.layers."
        idx = _indices(sd, p)
        convs = [i for i in idx if sd[f"{p}{i}.weight"].dim() == 4]
        lns = [i for i in idx if sd[f"{p}{i}.weight"].dim() == 1]
        w0 = sd[f"{p}{convs[0]}.weight"]
        if b == 0:
            in_ch = int(w0.shape[1])
            if lns:
                feat = int(sd[f"{p}{lns[0]}.weight"].shape[0])
        pool = int(vgg_arg[b][2]) if b < len(vgg_arg) else 2
        vgg.append(VGGBlockConfig(int(w0.shape[0]), int(w0.shape[2]), pool, len(convs), bool(lns)))
    enc_layers: List[TransformerLayerConfig] = []
    tail: List[int] = []
    for i in _indices(sd, "encoder.transformer_layers."):
        p = f"encoder.transformer_layers.{i}."
        if p + "fc1.weight" in sd:
            a = enc_tf[len(enc_layers)] if len(enc_layers) < len(enc_tf) else None
            cfg = _layer_cfg(sd, p, a[1] if a else None, tuple(a[4:7]) if a else (0.0, 0.0, 0.0))
            enc_layers.append(TransformerLayerConfig(cfg.d_model, cfg.heads, cfg.ffn_dim, bool(a[3]) if a else True, *cfg_drop(cfg)))
        else:
            tail.append(i)
    enc_out = int(sd[f"encoder.transformer_layers.{tail[-1]}.weight"].shape[0])
    embed = sd["decoder.embed_tokens.weight"]
    conv: List[ConvDecConfig] = []
    for i in _indices(sd, "decoder.conv_layers."):
        key = f"decoder.conv_layers.{i}.weight_v"
        if key in sd:
            k, _, o = sd[key].shape
            conv.append(ConvDecConfig(int(o), int(k), f"decoder.conv_layers.{i + 1}.weight" in sd))
    dec_layers: List[TransformerLayerConfig] = []
    for i in _indices(sd, "decoder.layers."):
        p = f"decoder.layers.{i}."
        if p + "fc1.weight" in sd:
            a = dec_tf[len(dec_layers)] if len(dec_layers) < len(dec_tf) else None
            cfg = _layer_cfg(sd, p, a[1] if a else None, tuple(a[4:7]) if a else (0.0, 0.0, 0.0))
            dec_layers.append(TransformerLayerConfig(cfg.d_model, cfg.heads, cfg.ffn_dim, bool(a[3]) if a else True, *cfg_drop(cfg)))
    return VGGTransformerConfig(
        vocab_size=int(embed.shape[0]),
        input_feat=feat,
        in_channels=in_ch,
        vgg=tuple(vgg),
        encoder_layers=tuple(enc_layers),
        enc_output_dim=enc_out,
        tgt_embed_dim=int(embed.shape[1]),
        decoder_conv=tuple(conv),
        decoder_layers=tuple(dec_layers),
    )


def cfg_drop(c: TransformerLayerConfig) -> Tuple[float, float, float]:
    """(dropout, attention_dropout, relu_dropout) of a layer config."""
    return (c.dropout, c.attention_dropout, c.relu_dropout)


def import_state_dict(sd: Dict[str, Tensor], args: Optional[Dict[str, Any]] = None) -> VGGTransformer:
    """Builds a :class:`VGGTransformer` from a fairseq state_dict (either key generation)."""
    sd = unfold_conv_weights(split_in_proj({k: v.float() for k, v in sd.items()}))
    model = VGGTransformer(infer_config(sd, args))
    model.load_state_dict(sd, strict=True)
    return model.eval()


def import_checkpoint(path: Union[str, Path], dict_txt: Optional[Union[str, Path]] = None) -> Tuple[VGGTransformer, Optional[Dictionary]]:
    """Loads a fairseq checkpoint (+ its ``dict.txt``): returns the model and the dictionary.

    Raises ValueError when the dictionary size differs from the embedding's vocabulary."""
    ck = load_checkpoint(path)
    model = import_state_dict(ck["model"], checkpoint_args(ck))
    dictionary = Dictionary.load(dict_txt) if dict_txt else None
    if dictionary is not None and len(dictionary) != model.cfg.vocab_size:
        raise ValueError(f"dict.txt gives {len(dictionary)} symbols but the model has V={model.cfg.vocab_size}")
    return model, dictionary

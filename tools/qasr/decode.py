"""Greedy and beam-search decoding of a :class:`~qasr.model.VGGTransformer` (fairseq semantics).

Beam search follows fairseq's ``SequenceGenerator`` defaults (spec §5): the decoder starts from
EOS; PAD is never produced; EOS is forbidden before ``min_len`` tokens and forced at the
maximum length ``max_len_a · T_enc + max_len_b``; at each step the best 2·beam candidates are
ranked, EOS candidates among the first ``beam`` of them are finalised with score
``sum log p / (length incl. EOS) ** len_pen``, the first ``beam`` non-EOS candidates continue;
a sentence is finished once ``beam`` hypotheses are final.  ``no_repeat_ngram_size`` is the
optional repetition guard (0 = off, as in fairseq).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .model import EOS_ID, PAD_ID, Decoder, VGGTransformer, encoder_lengths


@dataclass
class BeamConfig:
    """Search settings; the defaults are fairseq's (beam 20 as in the recipe)."""

    beam: int = 20
    nbest: int = 1
    max_len_a: float = 0.0
    max_len_b: int = 200
    min_len: int = 1
    len_pen: float = 1.0
    normalize_scores: bool = True
    no_repeat_ngram_size: int = 0


@dataclass
class Hypothesis:
    """One decoded hypothesis: token ids without the start/end EOS, and its scores."""

    tokens: List[int]
    score: float  # normalised (if enabled) total log-probability
    log_prob: float  # total log-probability including EOS


def _max_lens(enc_len: Tensor, a: float, b: int) -> List[int]:
    return [max(1, int(a * int(t) + b)) for t in enc_len]


def _banned(prefix: Sequence[int], n: int) -> List[int]:
    """Tokens that would repeat an n-gram already present in ``prefix``."""
    if n <= 0 or len(prefix) < n:
        return []
    key = tuple(prefix[len(prefix) - n + 1 :])
    return [prefix[i + n - 1] for i in range(len(prefix) - n + 1) if tuple(prefix[i : i + n - 1]) == key]


@torch.no_grad()
def greedy_search(
    model: VGGTransformer, feats: Tensor, lengths: Tensor, max_len_a: float = 0.0, max_len_b: int = 200
) -> List[List[int]]:
    """Batched greedy decoding; returns token ids (no EOS) per utterance."""
    model.eval()
    enc, mask = model.encoder(feats, lengths)
    b = enc.size(0)
    max_lens = _max_lens(encoder_lengths(lengths, model.cfg.vgg), max_len_a, max_len_b)
    dec: Decoder = model.decoder
    state = dec.init_state(enc, mask)
    last = torch.full((b,), EOS_ID, dtype=torch.long, device=enc.device)
    out: List[List[int]] = [[] for _ in range(b)]
    alive = [True] * b
    for step in range(max(max_lens) + 1):
        logits = dec.step(last, state).float()
        logits[:, PAD_ID] = float("-inf")
        if step < 1:
            logits[:, EOS_ID] = float("-inf")
        nxt = logits.argmax(dim=-1)
        for i in range(b):
            if not alive[i]:
                continue
            t = int(nxt[i])
            if t == EOS_ID or step >= max_lens[i]:
                alive[i] = False
            else:
                out[i].append(t)
        if not any(alive):
            break
        last = nxt
    return out


def _step_lprobs(
    dec: Decoder, tokens: Tensor, state: Dict, step: int, max_lens: List[int], cfg: BeamConfig, k: int
) -> Tensor:
    lprobs = torch.log_softmax(dec.step(tokens[:, -1], state).float(), dim=-1)
    lprobs[:, PAD_ID] = float("-inf")
    if step < cfg.min_len:
        lprobs[:, EOS_ID] = float("-inf")
    for row in range(lprobs.size(0)):
        if step >= max_lens[row // k]:
            eos = lprobs[row, EOS_ID].clone()
            lprobs[row].fill_(float("-inf"))
            lprobs[row, EOS_ID] = eos if torch.isfinite(eos) else 0.0
        elif cfg.no_repeat_ngram_size > 0:
            ban = _banned(tokens[row, 1:].tolist(), cfg.no_repeat_ngram_size)
            if ban:
                lprobs[row, ban] = float("-inf")
    return lprobs


@torch.no_grad()
def beam_search(model: VGGTransformer, feats: Tensor, lengths: Tensor, cfg: Optional[BeamConfig] = None) -> List[List[Hypothesis]]:
    """Batched beam search; returns ``cfg.nbest`` hypotheses per utterance, best first."""
    cfg = cfg or BeamConfig()
    model.eval()
    enc, mask = model.encoder(feats, lengths)
    bsz, k = enc.size(0), cfg.beam
    max_lens = _max_lens(encoder_lengths(lengths, model.cfg.vgg), cfg.max_len_a, cfg.max_len_b)
    dec: Decoder = model.decoder
    order = torch.arange(bsz, device=enc.device).repeat_interleave(k)
    state = dec.init_state(enc.index_select(0, order), None if mask is None else mask.index_select(0, order))
    tokens = torch.full((bsz * k, 1), EOS_ID, dtype=torch.long, device=enc.device)
    scores = torch.zeros(bsz * k, device=enc.device)
    finished: List[List[Hypothesis]] = [[] for _ in range(bsz)]
    done = [False] * bsz
    for step in range(max(max_lens) + 1):
        lprobs = _step_lprobs(dec, tokens, state, step, max_lens, cfg, k)
        vocab = lprobs.size(1)
        if step == 0:  # all beams are identical: expand the first one only
            cand = lprobs.view(bsz, k, vocab)[:, 0, :]
        else:
            cand = (scores[:, None] + lprobs).view(bsz, k * vocab)
        top_s, top_i = cand.topk(min(2 * k, cand.size(1)), dim=1)
        beam_src = torch.div(top_i, vocab, rounding_mode="floor") if step > 0 else torch.zeros_like(top_i)
        top_tok = top_i % vocab
        sel_rows: List[int] = []
        sel_tok: List[int] = []
        sel_score: List[float] = []
        for b in range(bsz):
            chosen = 0
            if not done[b]:
                for j in range(top_s.size(1)):
                    s = float(top_s[b, j])
                    if s == float("-inf"):
                        break
                    row = b * k + int(beam_src[b, j])
                    t = int(top_tok[b, j])
                    if t == EOS_ID:
                        if j < k and len(finished[b]) < k:
                            n = step + 1
                            norm = s / (n**cfg.len_pen) if cfg.normalize_scores else s
                            finished[b].append(Hypothesis(tokens[row, 1:].tolist(), norm, s))
                        continue
                    if chosen < k:
                        sel_rows.append(row)
                        sel_tok.append(t)
                        sel_score.append(s)
                        chosen += 1
                if len(finished[b]) >= k or chosen == 0:
                    done[b] = True
            while chosen < k:  # keep the batch rectangular; dead rows are ignored
                sel_rows.append(b * k)
                sel_tok.append(EOS_ID)
                sel_score.append(float("-inf"))
                chosen += 1
        if all(done):
            break
        idx = torch.tensor(sel_rows, dtype=torch.long, device=enc.device)
        tokens = torch.cat([tokens.index_select(0, idx), torch.tensor(sel_tok, device=enc.device)[:, None]], dim=1)
        scores = torch.tensor(sel_score, device=enc.device)
        state = Decoder.reorder_state(state, idx)
    return [sorted(f, key=lambda h: -h.score)[: cfg.nbest] for f in finished]


@torch.no_grad()
def decode_ids(
    model: VGGTransformer, feats: Tensor, lengths: Tensor, beam: int = 1, beam_cfg: Optional[BeamConfig] = None
) -> List[List[int]]:
    """Best token ids per utterance: greedy when ``beam == 1``, beam search otherwise."""
    if beam <= 1 and not (beam_cfg and beam_cfg.no_repeat_ngram_size > 0):
        mla, mlb = (beam_cfg.max_len_a, beam_cfg.max_len_b) if beam_cfg else (0.0, 200)
        return greedy_search(model, feats, lengths, mla, mlb)
    cfg = beam_cfg or BeamConfig()
    cfg = BeamConfig(**{**cfg.__dict__, "beam": beam, "nbest": 1})
    return [h[0].tokens if h else [] for h in beam_search(model, feats, lengths, cfg)]


def collate_features(feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
    """Right-pads (T, F) feature matrices with 0.0 → (B, T_max, F), lengths (B,)."""
    lengths = torch.tensor([f.size(0) for f in feats], dtype=torch.long)
    out = torch.zeros(len(feats), int(lengths.max()), feats[0].size(1))
    for i, f in enumerate(feats):
        out[i, : f.size(0)] = f
    return out, lengths

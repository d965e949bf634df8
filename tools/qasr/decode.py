"""Greedy and beam-search decoding of a :class:`~qasr.model.VGGTransformer` (fairseq semantics).

Beam search follows fairseq's ``SequenceGenerator`` defaults (spec §5): the decoder starts from
EOS; PAD is never produced; EOS is forbidden before ``min_len`` tokens and forced at the
maximum length ``max_len_a · T_enc + max_len_b``; at each step the best 2·beam candidates are
ranked, EOS candidates among the first ``beam`` of them are finalised with score
``sum log p / (length incl. EOS) ** len_pen``, the first ``beam`` non-EOS candidates continue;
a sentence is finished once ``beam`` hypotheses are final.  ``no_repeat_ngram_size`` is the
optional repetition guard (0 = off, as in fairseq).

Joint CTC/attention search (``ctc_weight`` λ > 0, Watanabe et al. 2017, ESPnet style) needs
the utterance's CTC log-probs (a CTC head, :mod:`qasr.ctc_head`). Each step, every live row's
candidates are its ``ctc_pre_beam`` (0: all) tokens of highest finite attention log-prob
after the masks above (ties: lower id); a candidate's score is ``(1 - λ)·att + λ·ctc`` in
float64, att the float32 running attention sum plus the token's log-prob, ctc the CTC prefix
score of the extended prefix (for EOS: the CTC log-probability of the whole hypothesis). All
rows' candidates are ranked by it (ties: lower row·V + token) and walked as above; a finished
hypothesis' ``score`` is the joint score over (length incl. EOS) ** len_pen and its ``log_prob``
the attention total. λ = 0 is the plain search, bit for bit. Joint search runs one utterance
at a time (its unpadded encoder output), so its results do not depend on batching.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

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
    ctc_weight: float = 0.0  # λ of joint CTC/attention search, in [0, 1); 0 = attention only
    ctc_pre_beam: int = 0  # candidates per row in joint search; 0 = every token


@dataclass
class Hypothesis:
    """One decoded hypothesis: token ids without the start/end EOS, and its scores."""

    tokens: List[int]
    score: float  # normalised (if enabled) total log-probability (joint search: joint score)
    log_prob: float  # total attention log-probability including EOS
    ctc_log_prob: Optional[float] = None  # joint search: CTC log-probability of the tokens


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
def beam_search(
    model: VGGTransformer,
    feats: Tensor,
    lengths: Tensor,
    cfg: Optional[BeamConfig] = None,
    ctc_head: Optional[nn.Module] = None,
    ctc_log_probs: Optional[Sequence[np.ndarray]] = None,
) -> List[List[Hypothesis]]:
    """Batched beam search; returns ``cfg.nbest`` hypotheses per utterance, best first.

    With ``cfg.ctc_weight > 0`` the search is joint CTC/attention: the CTC log-probs come from
    ``ctc_head`` applied to each utterance's encoder output, or are given per utterance as
    ``ctc_log_probs`` ((T_i, V+1) arrays over its valid encoder frames)."""
    cfg = cfg or BeamConfig()
    if not 0.0 <= cfg.ctc_weight < 1.0 or cfg.ctc_pre_beam < 0:
        raise ValueError(f"ctc_weight must be in [0, 1) and ctc_pre_beam >= 0 (got {cfg.ctc_weight}, {cfg.ctc_pre_beam})")
    if cfg.ctc_weight > 0:
        return _joint_batch(model, feats, lengths, cfg, ctc_head, ctc_log_probs)
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


def _joint_batch(
    model: VGGTransformer,
    feats: Tensor,
    lengths: Tensor,
    cfg: BeamConfig,
    ctc_head: Optional[nn.Module],
    ctc_log_probs: Optional[Sequence[np.ndarray]],
) -> List[List[Hypothesis]]:
    """Joint search of every utterance of a batch, one at a time on its unpadded features."""
    from .ctc_head import ctc_log_probs as head_log_probs

    if ctc_head is None and ctc_log_probs is None:
        raise ValueError("ctc_weight > 0 needs a CTC head or CTC log-probs")
    model.eval()
    out: List[List[Hypothesis]] = []
    for i in range(feats.size(0)):
        n = int(lengths[i])
        enc, _ = model.encoder(feats[i : i + 1, :n], lengths[i : i + 1])
        t = int(encoder_lengths(lengths[i : i + 1], model.cfg.vgg)[0])
        enc = enc[:, :t]
        x = ctc_log_probs[i] if ctc_log_probs is not None else head_log_probs(ctc_head, enc[0])
        max_len = _max_lens(torch.tensor([t]), cfg.max_len_a, cfg.max_len_b)[0]
        out.append(joint_beam_search(model, enc, x, max_len, cfg))
    return out


@torch.no_grad()
def joint_beam_search(
    model: VGGTransformer,
    enc: Tensor,
    ctc_log_probs: np.ndarray,
    max_len: int,
    cfg: BeamConfig,
    trace: Optional[List[Dict[str, Any]]] = None,
) -> List[Hypothesis]:
    """Joint CTC/attention beam search of one utterance (module docstring), even at λ = 0.

    ``enc``: its encoder output (1, T, D) without padding; ``ctc_log_probs``: (T, V+1) over the
    same frames (blank V); ``max_len``: the length limit (:func:`_max_lens`). If ``trace`` is a
    list, every step appends the ranked candidates it walked (rows, tokens, att, ctc, joint), the
    joint score of the first one left out (``next_joint``) and each row's attention log-prob gap
    at its pre-beam boundary (``pre_gap``): how close the step was to another decision.
    Decoder rows are kept rectangular (``beam`` rows, dead ones padded as in :func:`beam_search`)
    so that λ = 0 reproduces the batch-of-one plain search exactly."""
    from .ctc_head import CtcPrefixScorer

    if enc.dim() != 3 or enc.size(0) != 1:
        raise ValueError(f"enc must be (1, T, D), got {tuple(enc.shape)}")
    k, lam = cfg.beam, float(cfg.ctc_weight)
    pre = cfg.ctc_pre_beam if cfg.ctc_pre_beam > 0 else int(ctc_log_probs.shape[1])  # 0: every token
    scorer = CtcPrefixScorer(ctc_log_probs)
    if scorer.frames != enc.size(1):
        raise ValueError(f"CTC log-probs have {scorer.frames} frames, the encoder output {enc.size(1)}")
    dec: Decoder = model.decoder
    state = dec.init_state(enc.index_select(0, torch.zeros(k, dtype=torch.long, device=enc.device)), None)
    tokens = torch.full((k, 1), EOS_ID, dtype=torch.long, device=enc.device)
    rn, rb = (a[:, None] for a in scorer.empty())  # CTC states of the live rows, (T, R)
    last = np.array([-1], dtype=np.int64)  # live rows' last tokens (-1: empty prefix)
    att = np.zeros(1, dtype=np.float32)  # live rows' running attention sums
    finished: List[Hypothesis] = []
    for step in range(max_len + 1):
        lprobs = _step_lprobs(dec, tokens, state, step, [max_len], cfg, k)
        lp = lprobs[: att.size].cpu().numpy()
        vocab = lp.shape[1]
        rows_l: List[np.ndarray] = []
        toks_l: List[np.ndarray] = []
        pre_gap: List[float] = []  # per row: lp of its last pre-beam token minus the next one's
        for r in range(att.size):
            order = np.argsort(-lp[r], kind="stable")  # ties: lower id first
            order = order[np.isfinite(lp[r, order])]
            if order.size > pre:
                pre_gap.append(float(lp[r, order[pre - 1]]) - float(lp[r, order[pre]]))
            order = order[:pre]
            rows_l.append(np.full(order.size, r, dtype=np.int64))
            toks_l.append(order.astype(np.int64))
        rows, toks = np.concatenate(rows_l), np.concatenate(toks_l)
        a_c = att[rows] + lp[rows, toks]  # float32, as the plain search
        psi, c_rn, c_rb = scorer.extend(rn, rb, last, rows, toks)
        joint = (1.0 - lam) * a_c.astype(np.float64) + lam * psi
        order_all = np.lexsort((rows * vocab + toks, -joint))  # joint descending, ties: lower row·V + token
        ranked = order_all[: 2 * k]
        if trace is not None:
            left_out = joint[order_all[2 * k]].item() if order_all.size > 2 * k else None
            trace.append({"step": step, "rows": rows[ranked].tolist(), "tokens": toks[ranked].tolist(),
                          "att": a_c[ranked].tolist(), "ctc": psi[ranked].tolist(), "joint": joint[ranked].tolist(),
                          "next_joint": left_out, "pre_gap": pre_gap})
        sel: List[int] = []
        for j, c in enumerate(ranked):
            if toks[c] == EOS_ID:
                if j < k and len(finished) < k:
                    s = float(joint[c])
                    n = step + 1
                    norm = s / (n**cfg.len_pen) if cfg.normalize_scores else s
                    finished.append(Hypothesis(tokens[int(rows[c]), 1:].tolist(), norm, float(a_c[c]), float(psi[c])))
                continue
            if len(sel) < k:
                sel.append(int(c))
        if len(finished) >= k or not sel:
            break
        pad = k - len(sel)
        idx = torch.tensor(rows[sel].tolist() + [0] * pad, dtype=torch.long, device=enc.device)
        new = torch.tensor(toks[sel].tolist() + [EOS_ID] * pad, dtype=torch.long, device=enc.device)
        tokens = torch.cat([tokens.index_select(0, idx), new[:, None]], dim=1)
        state = Decoder.reorder_state(state, idx)
        att, last, rn, rb = a_c[sel], toks[sel], c_rn[:, sel], c_rb[:, sel]
    return sorted(finished, key=lambda h: -h.score)[: cfg.nbest]


@torch.no_grad()
def decode_ids(
    model: VGGTransformer,
    feats: Tensor,
    lengths: Tensor,
    beam: int = 1,
    beam_cfg: Optional[BeamConfig] = None,
    ctc_head: Optional[nn.Module] = None,
) -> List[List[int]]:
    """Best token ids per utterance: greedy when ``beam == 1`` (and neither the repetition guard
    nor joint CTC search is on), beam search otherwise."""
    joint = beam_cfg is not None and beam_cfg.ctc_weight > 0
    if beam <= 1 and not (beam_cfg and beam_cfg.no_repeat_ngram_size > 0) and not joint:
        mla, mlb = (beam_cfg.max_len_a, beam_cfg.max_len_b) if beam_cfg else (0.0, 200)
        return greedy_search(model, feats, lengths, mla, mlb)
    cfg = beam_cfg or BeamConfig()
    cfg = BeamConfig(**{**cfg.__dict__, "beam": beam, "nbest": 1})
    return [h[0].tokens if h else [] for h in beam_search(model, feats, lengths, cfg, ctc_head=ctc_head)]


def collate_features(feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
    """Right-pads (T, F) feature matrices with 0.0 → (B, T_max, F), lengths (B,)."""
    lengths = torch.tensor([f.size(0) for f in feats], dtype=torch.long)
    out = torch.zeros(len(feats), int(lengths.max()), feats[0].size(1))
    for i, f in enumerate(feats):
        out[i, : f.size(0)] = f
    return out, lengths

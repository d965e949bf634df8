"""Incremental decoding equals full decoding; greedy and beam search semantics."""
from __future__ import annotations

import torch

from qasr.decode import BeamConfig, _banned, beam_search, decode_ids, greedy_search
from qasr.model import EOS_ID, Decoder, build_model


def _model_and_input(seed: int = 0, vocab: int = 40):
    torch.manual_seed(seed)
    m = build_model("tiny", vocab).eval()
    x = torch.randn(2, 48, 80)
    lengths = torch.tensor([48, 33])
    return m, x, lengths


def test_incremental_equals_full_sequence() -> None:
    m, x, lengths = _model_and_input()
    enc, mask = m.encoder(x, lengths)
    prev = torch.tensor([[EOS_ID, 5, 9, 7, 5, 11, 12, 4, 6, 8, 10, 13], [EOS_ID, 6, 6, 6, 20, 21, 22, 23, 24, 25, 26, 27]])
    full = m.decoder(prev, enc, mask)
    state = m.decoder.init_state(enc, mask)
    for u in range(prev.size(1)):
        step = m.decoder.step(prev[:, u], state)
        assert torch.allclose(step, full[:, u], atol=1e-5), u


def test_reorder_state_matches_fresh_state() -> None:
    m, x, lengths = _model_and_input(1)
    enc, mask = m.encoder(x, lengths)
    state = m.decoder.init_state(enc, mask)
    m.decoder.step(torch.tensor([EOS_ID, EOS_ID]), state)
    swapped = Decoder.reorder_state(state, torch.tensor([1, 0]))
    out = m.decoder.step(torch.tensor([7, 7]), swapped)
    prev = torch.tensor([[EOS_ID, 7]])
    ref = m.decoder(prev, enc[1:2], None if mask is None else mask[1:2])
    assert torch.allclose(out[0], ref[0, 1], atol=1e-5)


def test_beam_one_equals_greedy() -> None:
    m, x, lengths = _model_and_input(2)
    g = greedy_search(m, x, lengths, max_len_b=15)
    b = beam_search(m, x, lengths, BeamConfig(beam=1, max_len_b=15))
    assert [h[0].tokens for h in b] == g


def test_beam_scores_are_length_normalised_and_sorted() -> None:
    m, x, lengths = _model_and_input(3)
    res = beam_search(m, x, lengths, BeamConfig(beam=4, nbest=4, max_len_b=6))
    for hyps in res:
        assert 1 <= len(hyps) <= 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert len(h.tokens) <= 6
            assert EOS_ID not in h.tokens
            assert abs(h.score - h.log_prob / (len(h.tokens) + 1)) < 1e-4


def test_max_length_forces_eos() -> None:
    m, x, lengths = _model_and_input(5)
    for ids in decode_ids(m, x, lengths, beam=3, beam_cfg=BeamConfig(max_len_b=2)):
        assert len(ids) <= 2


def test_no_repeat_ngram_guard() -> None:
    assert sorted(_banned([5, 6, 5, 7, 5], 2)) == [6, 7]
    assert _banned([5, 6], 3) == []
    m, x, lengths = _model_and_input(6, vocab=8)
    res = beam_search(m, x, lengths, BeamConfig(beam=3, max_len_b=12, no_repeat_ngram_size=2))
    for hyps in res:
        t = hyps[0].tokens
        bigrams = list(zip(t, t[1:]))
        assert len(bigrams) == len(set(bigrams))

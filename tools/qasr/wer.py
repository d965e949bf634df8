"""Word error rate (Levenshtein over whitespace-separated words)."""
from __future__ import annotations

from typing import Iterable, List, Sequence, Tuple


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Minimum number of substitutions + deletions + insertions turning ``ref`` into ``hyp``."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer_counts(pairs: Iterable[Tuple[str, str]]) -> Tuple[int, int]:
    """(errors, reference words) summed over (reference, hypothesis) pairs."""
    errors = words = 0
    for ref, hyp in pairs:
        r: List[str] = ref.split()
        errors += edit_distance(r, hyp.split())
        words += len(r)
    return errors, words


def wer(pairs: Iterable[Tuple[str, str]]) -> float:
    """Corpus WER in percent (0 for an empty reference set)."""
    e, n = wer_counts(pairs)
    return 100.0 * e / max(1, n)

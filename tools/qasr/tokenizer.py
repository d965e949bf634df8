"""SentencePiece tokenizer and fairseq-style dictionary.

qasr's own models use a SentencePiece unigram model trained with
``bos_id=0, pad_id=1, eos_id=2, unk_id=3`` so that SentencePiece ids *are* the fairseq
dictionary ids (``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, pieces from 4 on); the
vocabulary size V of the model equals the SentencePiece vocabulary size.  A ``dict.txt``
(one "piece count" line per id ≥ 4, in id order) is written next to the model for tools that
expect fairseq's layout.  Imported fairseq models instead carry their own ``dict.txt`` order
(spec §4.4); :class:`Dictionary` maps their ids back to pieces.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

import sentencepiece as spm

from .model import BOS_ID, EOS_ID, PAD_ID, UNK_ID

SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


def train_sentencepiece(
    text_file: Union[str, Path], model_prefix: Union[str, Path], vocab_size: int = 500, max_sentences: int = 2_000_000
) -> Path:
    """Trains a unigram model on ``text_file`` (one sentence per line); returns the .model path."""
    prefix = Path(model_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        input=str(text_file),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        bos_id=BOS_ID,
        pad_id=PAD_ID,
        eos_id=EOS_ID,
        unk_id=UNK_ID,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=True,
        num_threads=2,
        minloglevel=2,
    )
    model = prefix.with_suffix(".model")
    Tokenizer(model).write_dict(prefix.with_suffix(".dict.txt"))
    return model


class Dictionary:
    """fairseq dictionary: specials 0..3 then one symbol per ``dict.txt`` line in file order."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @staticmethod
    def load(path: Union[str, Path]) -> "Dictionary":
        """Reads fairseq's ``dict.txt`` ("symbol count" per line)."""
        syms = list(SPECIALS)
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                syms.append(line.rsplit(" ", 1)[0] if " " in line else line)
        return Dictionary(syms)

    def __len__(self) -> int:
        return len(self.symbols)

    def string(self, ids: Iterable[int]) -> str:
        """Ids → text: drop specials, join pieces, '▁' → space."""
        pieces = [self.symbols[i] for i in ids if i >= len(SPECIALS) and i < len(self.symbols)]
        return "".join(pieces).replace("\u2581", " ").strip()

    def encode_pieces(self, pieces: Sequence[str]) -> List[int]:
        """Pieces → ids (unknown pieces → <unk>)."""
        return [self.index.get(p, UNK_ID) for p in pieces]


class Tokenizer:
    """SentencePiece model whose ids coincide with the model's output ids (qasr convention)."""

    def __init__(self, model_file: Union[str, Path], dictionary: Optional[Dictionary] = None) -> None:
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.dictionary = dictionary
        if dictionary is None:
            assert self.sp.pad_id() == PAD_ID and self.sp.eos_id() == EOS_ID and self.sp.unk_id() == UNK_ID, (
                "SentencePiece model does not use the fairseq id convention; pass a Dictionary"
            )

    @property
    def vocab_size(self) -> int:
        """Model output size V."""
        return len(self.dictionary) if self.dictionary else self.sp.get_piece_size()

    def encode(self, text: str) -> List[int]:
        """Text → ids (no EOS)."""
        if self.dictionary:
            return self.dictionary.encode_pieces(self.sp.encode(text, out_type=str))
        return list(self.sp.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Ids (EOS/specials ignored) → text."""
        if self.dictionary:
            return self.dictionary.string(ids)
        return self.sp.decode([i for i in ids if i > UNK_ID]).strip()

    def write_dict(self, path: Union[str, Path]) -> None:
        """Writes a fairseq ``dict.txt`` listing pieces 4..V-1 in id order (count 1)."""
        lines = [f"{self.sp.id_to_piece(i)} 1" for i in range(len(SPECIALS), self.sp.get_piece_size())]
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

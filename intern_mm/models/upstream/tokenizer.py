"""An offline word-level caption tokenizer with CLIP-style text cleaning.

Choice (documented): CLIP's byte-pair encoding needs its 49k-merge vocabulary file, which
we may not download. A byte-level tokenizer needs none but turns each word into several
tokens, which makes short trainings (the 2-minute Up-A demo) and masked language modelling
(mask one byte of a word -> trivially recoverable) much weaker. We therefore use CLIP's
text cleaning (``ftfy`` + HTML unescaping + whitespace folding + lower case) and CLIP's
pre-tokenisation regex, and a *word* vocabulary built deterministically from the training
captions (sorted by descending frequency, then alphabetically). Unknown words map to
``<unk>``. The vocabulary is a few kilobytes; :class:`~intern_mm.models.upstream.DeCLIP`
stores it in its checkpoints (module extra state) and :meth:`CaptionTokenizer.save` writes it
as JSON, so a trained model never depends on the caption file again.
"""
import html
import json
import os.path as osp
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence

import ftfy
import regex as re
import torch

from intern_mm.registry import TASK_UTILS

__all__ = ['CaptionTokenizer', 'clean_text']

#: CLIP's pre-tokenisation pattern (without its start/end markers).
_TOKEN_PATTERN = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)

SPECIAL_TOKENS = ('<pad>', '<unk>', '<sot>', '<eot>', '<mask>')


def clean_text(text: str) -> str:
    """CLIP's text cleaning: fix mojibake, unescape HTML, fold whitespace, lower-case.

    Args:
        text (str): Raw text.

    Returns:
        str: The cleaned text.

    Example:
        >>> clean_text('  A&amp;B   Red\\nCircle ')
        'a&b red circle'
    """
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    text = re.sub(r'\s+', ' ', text).strip()
    return text.lower()


@TASK_UTILS.register_module()
class CaptionTokenizer:
    """Word-level tokenizer; vocabulary from training captions (see module docstring).

    Exactly one of ``vocab_file``, ``ann_file`` and ``words`` must be given.

    Args:
        vocab_file (str, optional): JSON written by :meth:`save`.
        ann_file (str, optional): A caption annotation file in the GV-world format
            (``{"data_list": [{"captions": [...]}, ...]}``); the vocabulary is built
            from all its captions.
        words (Sequence[str], optional): The vocabulary words (without special tokens),
            in id order.
        context_length (int): Length of encoded sequences including ``<sot>`` and
            ``<eot>``; longer texts are truncated. Defaults to 32.
        min_freq (int): Minimum count of a word to enter a vocabulary built from
            ``ann_file``. Defaults to 1.
        max_words (int, optional): Keep at most this many (most frequent) words.

    Example:
        >>> tok = CaptionTokenizer(words=['a', 'red', 'circle'], context_length=8)
        >>> ids = tok.encode('A red circle')
        >>> ids
        [2, 5, 6, 7, 3]
        >>> tok.decode(ids)
        'a red circle'
        >>> tok(['a circle', 'red']).shape
        torch.Size([2, 8])
    """

    def __init__(self,
                 vocab_file: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 words: Optional[Sequence[str]] = None,
                 context_length: int = 32,
                 min_freq: int = 1,
                 max_words: Optional[int] = None) -> None:
        given = [x is not None for x in (vocab_file, ann_file, words)]
        if sum(given) != 1:
            raise ValueError('CaptionTokenizer needs exactly one of vocab_file, ann_file '
                             f'and words (got vocab_file={vocab_file!r}, '
                             f'ann_file={ann_file!r}, words given: {words is not None})')
        if context_length < 3:
            raise ValueError(f'context_length must be >= 3, got {context_length}')
        self.context_length = context_length
        if vocab_file is not None:
            if not osp.isfile(vocab_file):
                raise FileNotFoundError(f'vocabulary file {vocab_file} does not exist')
            with open(vocab_file, encoding='utf-8') as f:
                state = json.load(f)
            self.load_state_dict(state)
        else:
            if ann_file is not None:
                words = self.build_vocab(
                    self.read_captions(ann_file), min_freq=min_freq, max_words=max_words)
            self._set_words(list(words))

    # ------------------------------------------------------------------ vocabulary
    @staticmethod
    def read_captions(ann_file: str) -> List[str]:
        """Read every caption of a GV-world caption annotation file.

        Args:
            ann_file (str): Path of ``captions/{split}.json``.

        Returns:
            List[str]: All captions in file order.
        """
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'caption annotation file {ann_file} does not exist')
        with open(ann_file, encoding='utf-8') as f:
            ann = json.load(f)
        if not isinstance(ann, dict) or 'data_list' not in ann:
            raise ValueError(f'{ann_file} has no "data_list" (expected the mmengine '
                             'BaseDataset annotation format)')
        captions = []
        for i, item in enumerate(ann['data_list']):
            caps = item.get('captions')
            if not isinstance(caps, list):
                raise ValueError(f'{ann_file}: data_list[{i}] has no list "captions"')
            captions.extend(caps)
        return captions

    @staticmethod
    def tokenize_words(text: str) -> List[str]:
        """Clean ``text`` and split it into word tokens.

        Args:
            text (str): Raw text.

        Returns:
            List[str]: The word tokens.
        """
        return _TOKEN_PATTERN.findall(clean_text(text))

    @classmethod
    def build_vocab(cls,
                    texts: Iterable[str],
                    min_freq: int = 1,
                    max_words: Optional[int] = None) -> List[str]:
        """Deterministic word list: descending frequency, ties alphabetically.

        Args:
            texts (Iterable[str]): Training captions.
            min_freq (int): Minimum count. Defaults to 1.
            max_words (int, optional): Maximum number of words.

        Returns:
            List[str]: The vocabulary words (no special tokens).
        """
        counts = Counter(w for t in texts for w in cls.tokenize_words(t))
        words = sorted((w for w, c in counts.items() if c >= min_freq and
                        w not in SPECIAL_TOKENS), key=lambda w: (-counts[w], w))
        return words[:max_words] if max_words is not None else words

    def _set_words(self, words: List[str]) -> None:
        if len(set(words)) != len(words):
            raise ValueError('vocabulary words must be unique')
        self.itos: List[str] = list(SPECIAL_TOKENS) + words
        self.stoi: Dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    @property
    def words(self) -> List[str]:
        """The vocabulary words in id order (without special tokens)."""
        return self.itos[len(SPECIAL_TOKENS):]

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def vocab_size(self) -> int:
        """Number of token ids including the special tokens."""
        return len(self.itos)

    pad_token_id = 0
    unk_token_id = 1
    sot_token_id = 2
    eot_token_id = 3
    mask_token_id = 4
    num_special_tokens = len(SPECIAL_TOKENS)

    # --------------------------------------------------------------- (de)serialise
    def state_dict(self) -> dict:
        """Serialisable state (version, special tokens, words, context length)."""
        return dict(version=1, special_tokens=list(SPECIAL_TOKENS), words=self.words,
                    context_length=self.context_length)

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict` output.

        Args:
            state (dict): The state.
        """
        if not isinstance(state, dict) or 'words' not in state:
            raise ValueError('not a CaptionTokenizer state: missing "words"')
        if tuple(state.get('special_tokens', SPECIAL_TOKENS)) != SPECIAL_TOKENS:
            raise ValueError(f'incompatible special tokens {state.get("special_tokens")}, '
                             f'expected {list(SPECIAL_TOKENS)}')
        self._set_words(list(state['words']))
        self.context_length = int(state.get('context_length', self.context_length))

    def save(self, path: str) -> None:
        """Write the vocabulary as JSON (loadable with ``vocab_file=path``).

        Args:
            path (str): Output file.
        """
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(self.state_dict(), f, indent=1)

    # ------------------------------------------------------------ encode / decode
    def encode(self, text: str, context_length: Optional[int] = None) -> List[int]:
        """Encode one text as ``[<sot>, words..., <eot>]`` (truncated, not padded).

        Args:
            text (str): Raw text.
            context_length (int, optional): Overrides :attr:`context_length`.

        Returns:
            List[int]: Token ids.
        """
        length = context_length or self.context_length
        ids = [self.stoi.get(w, self.unk_token_id) for w in self.tokenize_words(text)]
        return [self.sot_token_id] + ids[:length - 2] + [self.eot_token_id]

    def decode(self, ids: Sequence[int] | torch.Tensor, skip_special: bool = True) -> str:
        """Turn ids back into text (words joined by single spaces).

        Args:
            ids (Sequence[int] | Tensor): Token ids.
            skip_special (bool): Drop ``<pad>``/``<sot>``/``<eot>`` (``<unk>`` and
                ``<mask>`` are kept). Defaults to True.

        Returns:
            str: The text.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        skip = {self.pad_token_id, self.sot_token_id, self.eot_token_id}
        return ' '.join(self.itos[i] for i in ids if not (skip_special and i in skip))

    def __call__(self, texts: str | Sequence[str],
                 context_length: Optional[int] = None) -> torch.Tensor:
        """Encode and pad a batch to ``context_length`` (CLIP's ``tokenize``).

        Args:
            texts (str | Sequence[str]): One or more texts.
            context_length (int, optional): Overrides :attr:`context_length`.

        Returns:
            Tensor: Long tensor ``(N, context_length)`` padded with ``<pad>`` (0).
        """
        if isinstance(texts, str):
            texts = [texts]
        length = context_length or self.context_length
        out = torch.full((len(texts), length), self.pad_token_id, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = self.encode(text, length)
            out[i, :len(ids)] = torch.tensor(ids)
        return out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(vocab_size={self.vocab_size}, '
                f'context_length={self.context_length})')

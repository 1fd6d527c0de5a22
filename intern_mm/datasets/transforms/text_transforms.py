"""Caption transforms: caption sampling, EDA text views and tokenisation."""
from typing import List, Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from intern_mm.registry import TASK_UTILS, TRANSFORMS

__all__ = ['RandomCaption', 'EDATextViews', 'TokenizeText']


def _rng(seed: Optional[int]) -> Union[np.random.Generator, 'np.random.RandomState']:
    return np.random.default_rng(seed) if seed is not None else np.random.mtrand._rand


def _integers(rng, high: int) -> int:
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(high))
    return int(rng.randint(high))


@TRANSFORMS.register_module()
class RandomCaption(BaseTransform):
    """Pick one of ``results['captions']`` into ``results['text']``.

    Required keys: ``captions``. Added keys: ``text``, ``caption_id``.

    Args:
        mode (str): ``'random'`` (training) or ``'first'`` (evaluation).
            Defaults to ``'random'``.
        seed (int, optional): Seed of a private generator; by default the global numpy
            generator (seeded per worker by mmengine) is used.

    Example:
        >>> RandomCaption(mode='first')(dict(captions=['a', 'b']))['text']
        'a'
    """

    def __init__(self, mode: str = 'random', seed: Optional[int] = None) -> None:
        if mode not in ('random', 'first'):
            raise ValueError(f"mode must be 'random' or 'first', got {mode!r}")
        self.mode = mode
        self.seed = seed
        self.rng = _rng(seed)

    def transform(self, results: dict) -> dict:
        """Choose the caption."""
        captions = results.get('captions')
        if not captions:
            raise KeyError('RandomCaption needs a non-empty "captions" list in results')
        idx = 0 if self.mode == 'first' else _integers(self.rng, len(captions))
        results['text'] = captions[idx]
        results['caption_id'] = idx
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(mode={self.mode!r}, seed={self.seed})'


@TRANSFORMS.register_module()
class EDATextViews(BaseTransform):
    """Make ``num_views`` text views of ``results['text']`` by EDA-style augmentation.

    Easy Data Augmentation (Wei & Zou, 2019) restricted to the two operations that need
    no thesaurus: random deletion (each word dropped with probability ``p_delete``, at
    least one word kept) and random swap (``max(1, round(alpha_swap * n_words))`` swaps of
    two random words, applied with probability ``p_swap``). With ``keep_original=True``
    the first view is the unchanged caption, as in DeCLIP (caption + augmented caption).

    Required keys: ``text``. Added keys: ``texts`` (list of ``num_views`` str).

    Args:
        num_views (int): Number of text views. Defaults to 2.
        p_delete (float): Per-word deletion probability. Defaults to 0.1.
        p_swap (float): Probability of applying random swaps. Defaults to 0.5.
        alpha_swap (float): Swaps per word. Defaults to 0.1.
        keep_original (bool): First view is the unaugmented caption. Defaults to True.
        seed (int, optional): Seed of a private generator (reproducible views); by
            default the global numpy generator (seeded per worker by mmengine).

    Example:
        >>> t = EDATextViews(num_views=2, p_delete=0.5, seed=0)
        >>> out = t(dict(text='a red striped circle and a blue star'))
        >>> out['texts'][0]
        'a red striped circle and a blue star'
        >>> len(out['texts'])
        2
    """

    def __init__(self,
                 num_views: int = 2,
                 p_delete: float = 0.1,
                 p_swap: float = 0.5,
                 alpha_swap: float = 0.1,
                 keep_original: bool = True,
                 seed: Optional[int] = None) -> None:
        if num_views < 1:
            raise ValueError(f'num_views must be >= 1, got {num_views}')
        for name, p in (('p_delete', p_delete), ('p_swap', p_swap)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        self.num_views = num_views
        self.p_delete = p_delete
        self.p_swap = p_swap
        self.alpha_swap = alpha_swap
        self.keep_original = keep_original
        self.seed = seed
        self.rng = _rng(seed)

    def _random(self) -> float:
        return float(self.rng.random()) if isinstance(
            self.rng, np.random.Generator) else float(self.rng.random_sample())

    def augment(self, text: str) -> str:
        """Apply random deletion then random swap to one text.

        Args:
            text (str): The caption.

        Returns:
            str: The augmented caption.
        """
        words = text.split()
        if len(words) > 1 and self.p_delete > 0:
            kept = [w for w in words if self._random() >= self.p_delete]
            words = kept if kept else [words[_integers(self.rng, len(words))]]
        if len(words) > 1 and self._random() < self.p_swap:
            for _ in range(max(1, round(self.alpha_swap * len(words)))):
                i, j = _integers(self.rng, len(words)), _integers(self.rng, len(words))
                words[i], words[j] = words[j], words[i]
        return ' '.join(words)

    def transform(self, results: dict) -> dict:
        """Create the views."""
        if 'text' not in results:
            raise KeyError('EDATextViews needs "text" in results (add RandomCaption first)')
        text = results['text']
        views: List[str] = []
        for v in range(self.num_views):
            views.append(text if (v == 0 and self.keep_original) else self.augment(text))
        results['texts'] = views
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_views={self.num_views}, '
                f'p_delete={self.p_delete}, p_swap={self.p_swap}, '
                f'alpha_swap={self.alpha_swap}, keep_original={self.keep_original}, '
                f'seed={self.seed})')


@TRANSFORMS.register_module()
class TokenizeText(BaseTransform):
    """Encode the text views into token ids with a
    :class:`~intern_mm.models.upstream.CaptionTokenizer`.

    Required keys: ``texts`` (list of str) or ``text`` (str). Added keys: ``text_ids``
    (list of 1-D ``torch.long`` tensors, ``<sot> ... <eot>``, unpadded).

    Args:
        tokenizer (dict): Tokenizer config (built from the registry), e.g.
            ``dict(type='CaptionTokenizer', ann_file='data/gv_world/captions/train.json')``.
            Use the same config as the model's so the vocabularies agree.

    Example:
        >>> t = TokenizeText(dict(type='CaptionTokenizer', words=['a', 'cat']))
        >>> t(dict(texts=['a cat']))['text_ids'][0].tolist()
        [2, 5, 6, 3]
    """

    def __init__(self, tokenizer: dict) -> None:
        self.tokenizer_cfg = tokenizer
        self.tokenizer = TASK_UTILS.build(tokenizer)

    def transform(self, results: dict) -> dict:
        """Tokenize the views."""
        if 'texts' in results:
            texts = results['texts']
        elif 'text' in results:
            texts = [results['text']]
        else:
            raise KeyError('TokenizeText needs "texts" or "text" in results')
        results['text_ids'] = [
            torch.tensor(self.tokenizer.encode(t), dtype=torch.long) for t in texts
        ]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(tokenizer={self.tokenizer!r})'

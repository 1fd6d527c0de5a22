"""An image loader that skips (and names) a file that does not decode, instead of failing."""
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmengine.logging import MMLogger

from intern_mm.registry import TRANSFORMS
from .decode_failures import record_decode_failure

__all__ = ['LoadImageFromFileOrSkip']


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f'{type(err).__name__}: {text[0] if text else ""}'.rstrip(': ')


@TRANSFORMS.register_module()
class LoadImageFromFileOrSkip(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that returns None for an image it cannot load.

    mmcv 2.1's ``ignore_empty`` only catches a read or decoder exception: a file the cv2
    backend decodes to nothing (a truncated JPEG) still ends the run with "failed to
    load image". Here a file that is missing, unreadable, or decodes to nothing or to an
    empty array

    * is named in one WARNING line of the run's log (the first time this process meets
      it),
    * is recorded (:mod:`~intern_mm.datasets.transforms.decode_failures`: the run's
      ``decode_failures.jsonl``, counted by
      :class:`~intern_mm.engine.hooks.DecodeFailureHook` and a paradigm stage's
      ``done.json``), and
    * makes the transform return None, so mmengine's ``BaseDataset`` draws another
      sample of the same dataset (up to its ``max_refetch``, 1000): the run goes on.

    In ``test_mode`` (val / test sets) mmengine refuses a None sample and raises: an
    image missing from a metric would change it. ``tools/train.py`` therefore decodes
    the val images before training (``--check-data quick`` and ``full``), so such a file
    is named before the run starts.

    Args:
        skip (bool): Return None for a bad file (True) or raise the loader's error, as
            ``LoadImageFromFile`` does (False; the data checks use it). Defaults to True.
        **kwargs: Arguments of :class:`mmcv.transforms.LoadImageFromFile`.

    Example:
        >>> pipeline = [dict(type='LoadImageFromFileOrSkip'), ...]  # instead of
        >>> # dict(type='LoadImageFromFile'), in any mmdet / mmseg / mmpretrain pipeline
        >>> LoadImageFromFileOrSkip()(dict(img_path='truncated.jpg')) is None
        True
    """

    def __init__(self, skip: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.skip = skip

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image; None (recorded and logged) when it cannot be loaded.

        Args:
            results (dict): Result dict with ``img_path``.

        Returns:
            dict | None: The results with ``img``, ``img_shape``, ``ori_shape``, or None.
        """
        path = results['img_path']
        try:
            out = super().transform(results)
        except Exception as err:  # noqa: BLE001  (any loader failure: skip the file)
            if not self.skip:
                raise
            out, reason = None, _one_line(err)
        else:
            reason = self._invalid(out)
            if reason is not None and not self.skip:
                raise ValueError(f'{path}: {reason}')
        if reason is None:
            return out
        if record_decode_failure(str(path), reason):
            MMLogger.get_current_instance().warning(
                f'{path}: cannot be read or decoded ({reason}); skipped, another sample '
                "is drawn (counted in the run's decode_failures.jsonl)")
        return None

    @staticmethod
    def _invalid(out: Optional[dict]) -> Optional[str]:
        """Why a loader result is unusable, or None when it holds an image."""
        if out is None:
            return 'missing or unreadable (ignore_empty)'
        img = out.get('img')
        if img is None or img.ndim not in (2, 3) or img.size == 0:
            shape = None if img is None else tuple(img.shape)
            return f'decoded to no image (shape {shape})'
        return None

    def __repr__(self) -> str:
        return super().__repr__().replace('(', f'(skip={self.skip}, ', 1)

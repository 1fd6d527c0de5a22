"""Data preprocessor for image-text batches: image views normalised, token ids padded."""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import ImgDataPreprocessor

from intern_mm.registry import MODELS

__all__ = ['ImageTextDataPreprocessor']


@MODELS.register_module()
class ImageTextDataPreprocessor(ImgDataPreprocessor):
    """Stack and normalise every image view; pad every text view's token ids.

    Expects batches collated by mmengine's ``pseudo_collate`` from
    :class:`~intern_mm.datasets.transforms.PackImageTextInputs` outputs, i.e.
    ``data['inputs'] = {'imgs': [view][sample] (C, H, W) uint8,
    'texts': [view][sample] (L_i,) long}``. Image views are processed by
    :class:`mmengine.model.ImgDataPreprocessor` (BGR->RGB, normalisation, padding).

    Args:
        mean (Sequence[float], optional): Pixel mean. Defaults to None.
        std (Sequence[float], optional): Pixel std. Defaults to None.
        pad_size_divisor (int): Image padding divisor. Defaults to 1.
        pad_value (float): Image padding value. Defaults to 0.
        bgr_to_rgb (bool): Convert BGR to RGB. Defaults to False.
        rgb_to_bgr (bool): Convert RGB to BGR. Defaults to False.
        pad_token_id (int): Text padding id. Defaults to 0.
        text_pad_length (int, optional): Pad every text view to this length (e.g. the
            tokenizer's context length); by default to the batch's longest sequence.
        non_blocking (bool): Non-blocking device transfer. Defaults to False.

    Returns from :meth:`forward`:
        ``dict(inputs=dict(imgs=[(N, C, H, W) float], texts=[(N, L) long]),
        data_samples=...)``; a key absent from the batch is absent from ``inputs``.

    Example:
        >>> pre = ImageTextDataPreprocessor(mean=[0., 0., 0.], std=[1., 1., 1.])
        >>> data = dict(inputs=dict(
        ...     imgs=[[torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2],
        ...     texts=[[torch.tensor([2, 5, 3]), torch.tensor([2, 3])]]))
        >>> out = pre(data)
        >>> out['inputs']['imgs'][0].shape, out['inputs']['texts'][0].tolist()
        (torch.Size([2, 3, 4, 4]), [[2, 5, 3], [2, 3, 0]])
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 pad_size_divisor: int = 1,
                 pad_value: float = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 pad_token_id: int = 0,
                 text_pad_length: Optional[int] = None,
                 non_blocking: bool = False) -> None:
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            non_blocking=non_blocking)
        self.pad_token_id = pad_token_id
        self.text_pad_length = text_pad_length

    def pad_texts(self, texts: Sequence[torch.Tensor]) -> torch.Tensor:
        """Right-pad 1-D id tensors into one ``(N, L)`` tensor.

        Args:
            texts (Sequence[Tensor]): Token ids of each sample.

        Returns:
            Tensor: Padded ids.
        """
        lengths = [int(t.numel()) for t in texts]
        length = self.text_pad_length or max(lengths)
        if max(lengths) > length:
            raise ValueError(f'a text has {max(lengths)} tokens, more than '
                             f'text_pad_length={length}')
        return torch.stack([
            F.pad(t.long().flatten(), (0, length - t.numel()), value=self.pad_token_id)
            for t in texts
        ])

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess a collated batch (see class docstring).

        Args:
            data (dict): ``pseudo_collate`` output.
            training (bool): Unused (kept for the interface).

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data.get('inputs')
        if not isinstance(inputs, dict) or not ({'imgs', 'texts'} & set(inputs)):
            raise TypeError('ImageTextDataPreprocessor expects data["inputs"] to be a dict '
                            'with "imgs" and/or "texts" (use PackImageTextInputs and '
                            f'pseudo_collate), got {type(inputs)}')
        out = {}
        if 'imgs' in inputs:
            out['imgs'] = [
                super(ImageTextDataPreprocessor, self).forward(
                    dict(inputs=list(view)), training)['inputs'] for view in inputs['imgs']
            ]
        if 'texts' in inputs:
            out['texts'] = [self.pad_texts(view) for view in inputs['texts']]
        return dict(inputs=out, data_samples=data.get('data_samples'))

"""Near-duplicate copies of a photo, the ones the leak check must find.

Used to calibrate and test the leak check's threshold (``tests``,
``tools/analysis_tools/leak_check_benchmark.py --calibrate``): a resized copy, a JPEG
re-encoded one, a 5% crop (5% of the width and of the height removed, all from one
corner or split between the sides) and all three together.
"""
import io
import random
from typing import Dict

from PIL import Image

__all__ = ['PLANTED_KINDS', 'planted_copies', 'jpeg_copy', 'crop_copy']

#: The kinds of copies :func:`planted_copies` makes.
PLANTED_KINDS = ('resize50', 'resize25', 'jpeg30', 'jpeg50', 'crop5_corner', 'crop5_sides',
                 'crop_resize_jpeg')


def jpeg_copy(image: Image.Image, quality: int) -> Image.Image:
    """``image`` re-encoded as JPEG at ``quality``, decoded again."""
    buf = io.BytesIO()
    image.convert('RGB').save(buf, 'JPEG', quality=quality)
    buf.seek(0)
    with Image.open(buf) as copy:
        return copy.copy()


def crop_copy(image: Image.Image, rng: random.Random, corner: bool,
              fraction: float = 0.05) -> Image.Image:
    """``image`` with ``fraction`` of its width and height cropped away.

    Args:
        image (PIL.Image.Image): The photo.
        rng (random.Random): Picks the corner, or the split between opposite sides.
        corner (bool): Remove it all at one corner (two sides); else split at random
            between left / right and top / bottom.
        fraction (float): Share of each dimension removed. Defaults to 0.05.

    Returns:
        PIL.Image.Image: The crop.

    Example:
        >>> crop_copy(Image.new('RGB', (200, 100)), random.Random(0), True).size
        (190, 95)
    """
    w, h = image.size
    cut_w, cut_h = round(w * fraction), round(h * fraction)
    if corner:
        left = cut_w if rng.random() < 0.5 else 0
        top = cut_h if rng.random() < 0.5 else 0
    else:
        left, top = rng.randint(0, cut_w), rng.randint(0, cut_h)
    return image.crop((left, top, left + w - cut_w, top + h - cut_h))


def planted_copies(image: Image.Image, seed: int = 0) -> Dict[str, Image.Image]:
    """Every kind of :data:`PLANTED_KINDS` copy of ``image``.

    Args:
        image (PIL.Image.Image): The photo.
        seed (int): Seed of the crops. Defaults to 0.

    Returns:
        dict[str, PIL.Image.Image]: ``{kind: copy}``.

    Example:
        >>> sorted(planted_copies(Image.new('RGB', (64, 48))))[:2]
        ['crop5_corner', 'crop5_sides']
    """
    rng = random.Random(seed)
    w, h = image.size

    def resized(scale: float) -> Image.Image:
        return image.resize((max(8, round(w * scale)), max(8, round(h * scale))),
                            Image.Resampling.BICUBIC)

    crop = crop_copy(image, rng, corner=False)
    combo = crop.resize((max(8, crop.width // 2), max(8, crop.height // 2)),
                        Image.Resampling.BILINEAR)
    return {
        'resize50': resized(0.5),
        'resize25': resized(0.25),
        'jpeg30': jpeg_copy(image, 30),
        'jpeg50': jpeg_copy(image, 50),
        'crop5_corner': crop_copy(image, rng, corner=True),
        'crop5_sides': crop,
        'crop_resize_jpeg': jpeg_copy(combo, 40),
    }

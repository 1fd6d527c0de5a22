"""Perceptual hashes of image files, for the GV-D de-duplication and leak check.

Every image gets :data:`NUM_VIEWS` views, each hashed twice with ``imagehash.phash`` (DCT
of a grey thumbnail, low frequencies against their median): the whole image, its four 95%
corner crops and its 95% centre crop; a 64-bit pHash (8x8 frequencies) that the exact
search runs on, and a 256-bit one (16x16) that confirms each pair the search finds.

Why the views: a plain pHash survives resizing and JPEG re-encoding (at most 4 bits on
real photos) but not a 5% crop (up to 22 bits, as far as two distinct photos); a cropped
copy lines up with one of the crop views of its original instead (at most 8 bits
measured), so the distance of two images is the smallest distance between the whole image
of one and any view of the other. Why the second hash: 64 bits do not separate distinct
photos of a class that share a layout (street scenes from a car: 66 of 312k CamVid pairs
of different sequences within 10 bits); at 256 bits they are >= 74 apart, planted copies
<= 56 (``tools/analysis_tools/leak_check_benchmark.py --calibrate``, docs/your_data.md).

Why the colour signature: pHash sees grey only, so two distinct synthetic scenes with one
big shape at the same place (the GV world: a magenta and a red ring on other backgrounds)
are within both pHash thresholds. Each view also gets a 4x4 RGB thumbnail (box filter, 48
bytes), and a pair is a near duplicate only when the mean absolute difference of the
signatures (0-255, best over the views as for the hashes) is small too.

Files are read once: the bytes give the content digest (the same file declared twice is
one image) and the decoded image. A file that cannot be read or decoded is returned as a
failure (path, one-line reason), never skipped silently.
"""
import hashlib
import io
import os
import os.path as osp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import imagehash
import numpy as np
from PIL import Image, ImageOps

from ..gvb.annotations import IMG_EXTENSIONS
from .errors import GVDInputError

__all__ = [
    'NUM_VIEWS', 'CROP_FRACTION', 'FINE_WORDS', 'COLOUR_SIZE', 'COLOUR_VALUES',
    'DEFAULT_MAX_DISTANCE', 'DEFAULT_MAX_FINE_DISTANCE', 'DEFAULT_MAX_COLOUR_DISTANCE',
    'ImageHashes', 'list_images', 'image_views', 'colour_signature', 'colour_distances',
    'hash_image', 'hash_images', 'default_workers'
]

#: Share of the width and height that a crop view removes.
CROP_FRACTION = 0.05
#: Hashes per image: whole, 4 corner crops, centre crop (column 0 is the whole image).
NUM_VIEWS = 6
#: Largest 64-bit distance of a candidate pair. Every planted copy (resize, JPEG q30, 5%
#: crop, all three) of CamVid and raccoon photos measured <= 8; pHash distances are even
#: (a hash has 32 bits set unless DCT coefficients tie), so 10 keeps one step of margin.
#: Distinct photos that share a layout fall below it too (>= 6): the fine hash decides.
DEFAULT_MAX_DISTANCE = 10
#: 64-bit words of the fine (256-bit, 16x16 frequencies) hash of a view.
FINE_WORDS = 4
#: Largest fine-hash distance (bits of 256) of a near duplicate: planted copies <= 56,
#: distinct photos >= 74 (CamVid street scenes of different sequences, raccoon photos).
DEFAULT_MAX_FINE_DISTANCE = 64
#: Side of the RGB thumbnail (box filter) that is a view's colour signature.
COLOUR_SIZE = 4
#: Bytes of a view's colour signature (``COLOUR_SIZE ** 2`` pixels x RGB).
COLOUR_VALUES = 3 * COLOUR_SIZE**2
#: Largest colour distance (mean absolute difference of the signatures, 0-255) of a near
#: duplicate, calibrated with ``leak_check_benchmark.py --calibrate --world`` (numbers in
#: docs/your_data.md): planted copies (resize, JPEG q30, 5% crop, all three) of CamVid /
#: raccoon photos and of GV-world images (claim world, seed 0) <= 5.2; the distinct GV-world
#: scenes within both pHash thresholds (2,100 train images x 600 downstream-stream images,
#: and inside the train images) >= 8.9. 7 sits between them.
DEFAULT_MAX_COLOUR_DISTANCE = 7.0
#: JPEG files decode at a reduced scale of at least this size (PIL ``draft``), and every
#: image is brought down to at most twice it before the views are cut.
_WORK_SIZE = 128
#: Below this many files hashing runs in the calling process (a pool does not pay).
_POOL_MIN_FILES = 64


@dataclass
class ImageHashes:
    """The hashes of the files that decoded, and the files that did not.

    Attributes:
        paths (list[str]): The files that decoded, in input order.
        hashes (np.ndarray): ``(len(paths), NUM_VIEWS)`` uint64 64-bit pHashes.
        fine (np.ndarray): ``(len(paths), NUM_VIEWS, FINE_WORDS)`` uint64 256-bit pHashes.
        colour (np.ndarray): ``(len(paths), NUM_VIEWS, COLOUR_VALUES)`` uint8 colour
            signatures (:func:`colour_signature`).
        digests (list[str]): SHA-256 of each file's bytes.
        failures (list[tuple[str, str]]): ``(path, reason)`` of each file that failed.
        seconds (float): Wall time of the hashing.
    """
    paths: List[str] = field(default_factory=list)
    hashes: np.ndarray = field(
        default_factory=lambda: np.zeros((0, NUM_VIEWS), dtype=np.uint64))
    fine: np.ndarray = field(
        default_factory=lambda: np.zeros((0, NUM_VIEWS, FINE_WORDS), dtype=np.uint64))
    colour: np.ndarray = field(
        default_factory=lambda: np.zeros((0, NUM_VIEWS, COLOUR_VALUES), dtype=np.uint8))
    digests: List[str] = field(default_factory=list)
    failures: List[Tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def list_images(path: str) -> List[str]:
    """The image files under a folder (recursively), sorted; a file is returned as is.

    Args:
        path (str): An image folder, or one image file.

    Returns:
        list[str]: Paths ending in one of ``IMG_EXTENSIONS`` (case-insensitive).

    Raises:
        GVDInputError: If ``path`` does not exist (the message names it).

    Example:
        >>> list_images('../shared/datasets/raccoon/images')[:1]  # doctest: +SKIP
        ['../shared/datasets/raccoon/images/raccoon-1.jpg']
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise GVDInputError(f'{path}: no such image folder or file')
    found = []
    for dirpath, dirnames, files in os.walk(path, followlinks=True):
        dirnames.sort()
        found.extend(osp.join(dirpath, name) for name in files
                     if name.lower().endswith(IMG_EXTENSIONS))
    return sorted(found)


def image_views(image: Image.Image, mode: str = 'L') -> List[Image.Image]:
    """The views that are hashed: whole, 4 corner crops, centre crop.

    Args:
        image (PIL.Image.Image): The decoded image (any mode).
        mode (str): Mode of the views: ``'L'`` (grey, what pHash reads) or ``'RGB'``
            (what the colour signature reads). Defaults to ``'L'``.

    Returns:
        list[PIL.Image.Image]: :data:`NUM_VIEWS` images, at most ``2 * _WORK_SIZE``
        pixels on a side.

    Example:
        >>> [v.mode for v in image_views(Image.new('RGB', (64, 48)))][:2]
        ['L', 'L']
    """
    work = image.convert(mode)
    if max(work.size) > 2 * _WORK_SIZE:
        work.thumbnail((2 * _WORK_SIZE, 2 * _WORK_SIZE), Image.Resampling.LANCZOS)
    w, h = work.size
    dw, dh = w * CROP_FRACTION, h * CROP_FRACTION
    boxes = [(0, 0, w - dw, h - dh), (dw, 0, w, h - dh), (0, dh, w - dw, h), (dw, dh, w, h),
             (dw / 2, dh / 2, w - dw / 2, h - dh / 2)]
    return [work] + [work.crop(tuple(round(v) for v in box)) for box in boxes]


def colour_signature(view: Image.Image) -> List[int]:
    """The colour signature of one RGB view: a ``COLOUR_SIZE`` square thumbnail.

    Args:
        view (PIL.Image.Image): An RGB view (:func:`image_views` with ``mode='RGB'``).

    Returns:
        list[int]: :data:`COLOUR_VALUES` bytes, the box-filtered pixels row by row (RGB).

    Example:
        >>> colour_signature(Image.new('RGB', (40, 30), (255, 0, 9)))[:4]
        [255, 0, 9, 255]
    """
    thumb = view.resize((COLOUR_SIZE, COLOUR_SIZE), Image.Resampling.BOX)
    return np.asarray(thumb, dtype=np.uint8).ravel().tolist()


def colour_distances(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The colour distance of each pair ``(a[i[k]], b[j[k]])`` of view signatures.

    The distance of two views is the mean absolute difference of their signatures
    (0-255); of two images, as for the hashes, the smallest distance between the whole
    image (view 0) of one and any view of the other, so a 5% crop lines up with a crop
    view of its original.

    Args:
        a (np.ndarray): ``(n, views, COLOUR_VALUES)`` uint8 signatures.
        b (np.ndarray): ``(m, views, COLOUR_VALUES)`` uint8 signatures.
        i (np.ndarray): Indices into ``a``.
        j (np.ndarray): Indices into ``b`` (same length as ``i``).

    Returns:
        np.ndarray: float64 distances, one per pair.

    Example:
        >>> a = np.zeros((1, 2, 3), np.uint8)
        >>> b = np.array([[[9, 9, 9], [3, 0, 0]]], np.uint8)
        >>> colour_distances(a, b, np.array([0]), np.array([0])).tolist()
        [1.0]
    """
    out = np.zeros(len(i), np.float64)
    for start in range(0, len(i), 4096):
        x = a[i[start:start + 4096]].astype(np.int16)
        y = b[j[start:start + 4096]].astype(np.int16)
        whole_a = np.abs(x[:, :1] - y).mean(-1).min(-1)
        whole_b = np.abs(x - y[:, :1]).mean(-1).min(-1)
        out[start:start + len(x)] = np.minimum(whole_a, whole_b)
    return out


def _phash_words(image: Image.Image, hash_size: int) -> List[int]:
    """The pHash of ``image`` as big-endian 64-bit words."""
    bits = imagehash.phash(image, hash_size=hash_size).hash.ravel()
    return np.packbits(bits).view('>u8').tolist()


def hash_image(path: str) -> Tuple[List[int], List[List[int]], List[List[int]], str]:
    """The view hashes (64 and 256 bits), colour signatures and content digest of a file.

    The file is decoded once in colour (a JPEG at reduced scale); the pHashes read the
    grey of the same views the colour signatures read.

    Args:
        path (str): The image file.

    Returns:
        tuple: ``NUM_VIEWS`` 64-bit pHashes (int), ``NUM_VIEWS`` x ``FINE_WORDS`` words
        of the 256-bit pHashes, ``NUM_VIEWS`` x ``COLOUR_VALUES`` colour signature bytes
        and the file's SHA-256 hex digest.

    Raises:
        OSError: If the file cannot be read or decoded (PIL's error).

    Example:
        >>> hashes, fine, colour, digest = hash_image('demo/demo.jpg')  # doctest: +SKIP
    """
    with open(path, 'rb') as f:
        data = f.read()
    with Image.open(io.BytesIO(data)) as image:
        image.draft('RGB', (_WORK_SIZE, _WORK_SIZE))
        image = ImageOps.exif_transpose(image)
        if image.width == 0 or image.height == 0:
            raise OSError('decodes to an empty image')
        views = image_views(image, 'RGB')
    colour = [colour_signature(view) for view in views]
    grey = [view.convert('L') for view in views]
    hashes = [_phash_words(view, 8)[0] for view in grey]
    fine = [_phash_words(view, 16) for view in grey]
    return hashes, fine, colour, hashlib.sha256(data).hexdigest()


def _hash_or_error(path: str):
    try:
        return hash_image(path), None
    except Exception as err:  # noqa: BLE001  (every failure is reported by name)
        reason = ' '.join(str(err).split()) or type(err).__name__
        return None, f'{type(err).__name__}: {reason}'


def default_workers() -> int:
    """Processes for hashing: the CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  (not Linux)
        return os.cpu_count() or 1


def hash_images(paths: Sequence[str], workers: Optional[int] = None) -> ImageHashes:
    """Hash image files, in a process pool when there are enough of them.

    Args:
        paths (Sequence[str]): Image files.
        workers (int, optional): Processes; 1 (or fewer than 64 files) hashes in this
            process. Defaults to :func:`default_workers`.

    Returns:
        ImageHashes: Hashes and colour signatures of the files that decoded, the failures
        and the time.

    Example:
        >>> result = hash_images(list_images('data/val'), workers=2)  # doctest: +SKIP
        >>> result.hashes.shape, result.fine.shape, result.failures[:1]  # doctest: +SKIP
        ((1000, 6), (1000, 6, 4), [('data/val/x.jpg', 'OSError: image file is truncated')])
        >>> result.colour.shape  # doctest: +SKIP
        (1000, 6, 48)
    """
    start = time.perf_counter()
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(paths) < _POOL_MIN_FILES:
        results = [_hash_or_error(p) for p in paths]
    else:
        chunk = max(1, min(64, len(paths) // (8 * workers)))
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_hash_or_error, paths, chunksize=chunk))
    out = ImageHashes()
    rows, fine, colour = [], [], []
    for path, (hashed, error) in zip(paths, results):
        if error is not None:
            out.failures.append((path, error))
            continue
        out.paths.append(path)
        rows.append(hashed[0])
        fine.append(hashed[1])
        colour.append(hashed[2])
        out.digests.append(hashed[3])
    if rows:
        out.hashes = np.array(rows, dtype=np.uint64)
        out.fine = np.array(fine, dtype=np.uint64)
        out.colour = np.array(colour, dtype=np.uint8)
    out.seconds = time.perf_counter() - start
    return out

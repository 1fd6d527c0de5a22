"""Generate the built-in GV world (format: ``docs/gv_world.md``).

Example:
    python tools/dataset_converters/make_gv_world.py --out data/gv_world --num 2000 --seed 0
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time


def _load_generator():
    """Import the ``intern_mm/datasets/gv_world`` package by path.

    The generator needs only numpy and Pillow; loading the package directly (its modules
    import each other relatively) keeps this tool independent of the rest of the package
    (mmcv / mmdet / mmseg imports), so the world can be generated before, or without, the
    full OpenMMLab stack.
    """
    folder = osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', 'intern_mm',
                      'datasets', 'gv_world')
    path = osp.join(folder, '__init__.py')
    if not osp.isfile(path):  # installed package without the source tree
        from intern_mm.datasets import gv_world
        return gv_world
    spec = importlib.util.spec_from_file_location(
        '_intern_mm_gv_world', path, submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # picklable for --workers
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the deterministic synthetic GV world (images, captions, '
        'multi-source classification / detection / segmentation labels, depth and a '
        'downstream task) in the formats the stock OpenMMLab datasets read.')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--num', type=int, default=2000,
                        help='total number of images over train/val/test')
    parser.add_argument('--seed', type=int, default=0, help='world seed')
    parser.add_argument('--img-size', type=int, default=64, help='image side (pixels)')
    parser.add_argument('--val-ratio', type=float, default=0.15,
                        help='fraction of images in the val split')
    parser.add_argument('--test-ratio', type=float, default=0.15,
                        help='fraction of images in the test split (downstream only)')
    parser.add_argument('--workers', type=int, default=0,
                        help='worker processes (0: render in this process); the output '
                        'does not depend on it')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.time()
    meta = _load_generator().generate_gv_world(
        args.out,
        num=args.num,
        seed=args.seed,
        img_size=args.img_size,
        val_ratio=args.val_ratio,
        test_ratio=args.test_ratio,
        workers=args.workers,
        verbose=True)
    print(f"[gv_world] wrote {meta['num']} images ({meta['splits']}) to {args.out} "
          f'in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main()

"""Helpers shared by the GV-B tool tests."""
from pathlib import Path


def slice_list(src: Path, dst: Path, lists: dict, links=('images', 'annotations')) -> Path:
    """A smaller view of a shared dataset: symlinked folders, shortened id lists."""
    dst.mkdir(parents=True)
    for name in links:
        (dst / name).symlink_to(src / name)
    for name, count in lists.items():
        ids = (src / name).read_text().split()[:count]
        (dst / name).write_text('\n'.join(ids) + '\n')
    return dst

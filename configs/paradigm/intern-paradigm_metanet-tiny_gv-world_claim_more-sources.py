# The claim (intern-paradigm_metanet-tiny_gv-world_claim.py) with more upstream sources in
# other label spaces: the world's sources declared as a user declares theirs
# (world_sources), plus the worked example's real sources from ../shared/datasets
# (docs/your_data.md): CIFAR-10 (10 classes, 1,400 train images) beside the three
# classification sources, raccoon (1 class, Pascal-VOC) beside the two detection sources.
# Every stage keeps its model, schedule and iterations; the experts' and Up-G's
# MultiSourceSampler draws every source of a task alike, and the conventional classifier
# trains on every classification source (CIFAR-10 too). The downstream stream, the
# counterparts' recipes and every downstream choice are the claim config's.
# docs/claim.md, "More upstream sources".
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_more-sources.py \
#       --seeds 0 --work-dir work_dirs/claim_more-sources --out docs/claim/more-sources
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

import mmengine.config as _mmcfg  # noqa: E402  (module: dropped from the config)

from intern_mm.datasets.gvd.sources import world_sources  # noqa: E402  (function: dropped)

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_claim_more-sources'


def _claim_sources():
    """The world's sources at the claim config's world root (claim_seeds.py moves them
    with each seed's world: root ``<root>_s<seed>``), plus the worked example's CIFAR-10
    and raccoon and its ``source_options`` (intern-paradigm_metanet-tiny_your-data.py:
    every image resized to the stages' 64 px; the world's WordNet overrides keep its
    spaces)."""
    your_data = _mmcfg.Config.fromfile(
        '{{ fileDirname }}/intern-paradigm_metanet-tiny_your-data.py')
    declared = dict(**world_sources('data/gv_world_claim'),
                    cifar10=your_data.sources.cifar10.to_dict(),
                    raccoon=your_data.sources.raccoon.to_dict())
    return declared, your_data.source_options.to_dict()


sources, source_options = _claim_sources()

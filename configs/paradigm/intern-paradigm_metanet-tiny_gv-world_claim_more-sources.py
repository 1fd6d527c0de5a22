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
# the world root of the claim config (claim_seeds.py moves these sources with the world:
# root <root>_s<seed>)


def _your_data(key):
    """The worked example's entry ``key`` (intern-paradigm_metanet-tiny_your-data.py)."""
    cfg = _mmcfg.Config.fromfile(
        '{{ fileDirname }}/intern-paradigm_metanet-tiny_your-data.py')
    return cfg[key].to_dict()


sources = dict(**world_sources('data/gv_world_claim'),
               cifar10=_your_data('sources')['cifar10'],
               raccoon=_your_data('sources')['raccoon'])
# every image resized to the stages' 64 px; the world's WordNet overrides keep its spaces
source_options = _your_data('source_options')

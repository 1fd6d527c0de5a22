# Runtime of every GV-B protocol Runner (tools/gvb.py run, the paradigm's
# Downstream-Adaptation). `python tools/gvb.py show-config TASK PROTOCOL` prints a
# resolved config; every run writes the one it ran as run_config.py in its work_dir.
#
# Filled in by intern_mm.benchmark.protocols (computed per run): work_dir, the
# checkpoint interval (1 epoch for detection, max_iters // 10 iterations otherwise, or
# the run's checkpoint_interval), the logger interval, env_cfg.dist_cfg.backend ('nccl'
# with CUDA, else 'gloo'), randomness.seed, launcher and, for a distributed launcher,
# model_wrapper_cfg (MMDistributedDataParallel; find_unused_parameters in probe mode).
custom_imports = dict(imports=['intern_mm', 'intern_mm.benchmark'], allow_failed_imports=False)
work_dir = 'work_dirs/gvb'

test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep 2: mmengine deletes old checkpoints *before* writing the new one and updates
    # last_checkpoint after it, so with 1 a kill in between leaves last_checkpoint naming
    # a deleted file and the rerun cannot resume
    checkpoint=dict(type='CheckpointHook', interval=1000, by_epoch=False, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# a resumed task continues the random streams of the interrupted one
custom_hooks = [dict(type='intern_mm.RNGStateHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
randomness = dict(seed=0, deterministic=False)
launcher = 'none'
load_from = None
# an interrupted run resumes from its last checkpoint
resume = True
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])

# INTERN's claim as a skeptic would measure it (docs/claim.md):
#   * the INTERN setting: the downstream tasks on their own images, a separate stream of
#     the world no upstream stage reads (world.downstream; the leak check proves it in
#     the summary), the upstream sources holding >= 10x the images of any downstream
#     100% set (2100 upstream training images, 200 downstream);
#   * counterparts trained to convergence: scratch (the Up-G architecture from random
#     initialisation) and conventional pre-training (a classifier trained from scratch
#     on the world's three classification sources together, the ImageNet analogue),
#     each fine-tuned on 100% over a schedule grid chosen on val; per family the
#     counterpart is the better of the two on val;
#   * several seeds: one world per seed (tools/analysis_tools/claim_seeds.py); the
#     design was chosen on world seed 0, the claim is reported on seeds 1-3.
#
#   python tools/analysis_tools/claim_seeds.py \
#       configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim.py --seeds 1 2 3
#
# The distillation stage and the OTA protocol (the deployment path) are left out: the
# claim compares Up-A, the best Up-E and Up-G with the counterparts.
_base_ = ['./intern-paradigm_metanet-tiny_gv-world.py']

# the stages and the downstream parts as jobs, two processes at once, one thread each: a
# job starts when the stages it needs are done (the experts side by side, the
# counterparts beside the stages; intern_mm/paradigm/jobs.py, docs/claim.md "Budget").
# A run's floating-point sums depend on its threads: the docs' figures were made at one.
workers = 2
worker_threads = 1

work_dir = 'work_dirs/intern-paradigm_metanet-tiny_gv-world_claim'
world = dict(root='data/gv_world_claim', num=3000, seed=0, img_size=64,
             downstream=dict(train=200, val=100, test=300))

# every parameter at the full learning rate; a stage trained n iterations (cosine to the end)
_full_rate = {'optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult': 1.0}
_iteration_keys = ('train_cfg.max_iters', 'train_cfg.val_interval', 'param_scheduler.1.end',
                   'default_hooks.checkpoint.interval')
# conventional pre-training: the cls expert's recipe from random initialisation, every
# parameter at the full learning rate, trained as long as Up-A and the cls expert together
# (150 + 900 iterations)
_conventional_stage = dict(
    name='conventional', config='configs/paradigm/metanet-tiny_up-e-cls_gv-world_900it.py',
    main_metric='mean/accuracy/top1',
    cfg_options={**_full_rate, **{key: 1050 for key in _iteration_keys}})
stages = [{{_base_._up_a_stage}}, {{_base_._up_e_cls_stage}}, {{_base_._up_e_det_stage}},
          {{_base_._up_e_seg_stage}}, {{_base_._up_g_stage}}, _conventional_stage]
# the experts train 3x as long as the demo's (900 iterations: the _900it configs); on world
# seed 0's upstream val, shape top-1 25.6 -> 41.6 (chance 12.5), det VOC mAP 0.29 -> 0.81,
# seg mIoU 28.3 -> 88.1. The cls and det experts fine-tune Up-A's backbone at the full rate
# (0.1 before: shape top-1 11.3 -> 25.1, det mAP 0.219 -> 0.303 at 300 iterations); the seg
# expert keeps 0.1 (docs/claim.md, "The upstream learns")
_expert = 'configs/paradigm/metanet-tiny_up-e-{}_gv-world_900it.py'
stage_overrides = {'up-e-cls': dict(config=_expert.format('cls'), cfg_options=_full_rate),
                   'up-e-det': dict(config=_expert.format('det'), cfg_options=_full_rate),
                   'up-e-seg': dict(config=_expert.format('seg'))}

# the stages as they were before the experts trained 3x as long (300 iterations, the
# conventional classifier 450): the ablation configs measured on them restore these
_expert_300it = 'configs/paradigm/metanet-tiny_up-e-{}_gv-world_300it.py'
_stages_300it = {
    'up-e-cls': dict(config=_expert_300it.format('cls'), cfg_options=_full_rate),
    'up-e-det': dict(config=_expert_300it.format('det'), cfg_options=_full_rate),
    'up-e-seg': dict(config=_expert_300it.format('seg')),
    'conventional': dict(config=_expert_300it.format('cls'), cfg_options={
        **_full_rate, **{key: 450 for key in _iteration_keys}})}

_schedules = dict(cls=(3, ), det=(3, ), seg=(10, ), depth=(10, ))
_finetune = dict(cls=(1, ), det=(3, ), seg=(10, ), depth=(10, ))
downstream = dict(
    _delete_=True,
    fraction=0.1,
    seed=0,
    families=('cls', 'det', 'seg', 'depth'),
    backbones={'up-a': 'up-a', 'best-up-e': ['up-e-cls', 'up-e-det', 'up-e-seg'],
               'up-g': 'up-g'},
    protocols={'default': ('probe', 'finetune')},
    # schedules: multiples of the recipe's (learning-rate steps scaled with them), each
    # chosen on world seed 0's val over 1x / 3x / 10x in the first design run (the
    # _claim_first-design-run.py config: the smallest point within 1% of the longer one;
    # docs/claim.md, "Schedules"). On these stages the grids (make claim-design) ask for
    # det 10x and seg and depth 30x; a seed then costs about twice as much, past the
    # 90-minute budget, so make claim keeps these (_claim_design-points.py runs those).
    # Learning rates: multiples of the recipe's (x1, x3, x10, ...), chosen on world seed
    # 0's val at these schedules, the 10% runs and each counterpart apart, each the last
    # point that improved val by more than 1% (docs/claim.md, "Learning rates"; the
    # ablation config ..._demo_lr-grid.py). det stays at x1 for all (every x3 run
    # ended at 0.00 mAP).
    # The counterparts on 100%, the better on val per seed:
    scratch=dict(stage='up-g', fractions=(1.0, ), schedules=_schedules,
                 recipes=dict(cls=dict(lr=0.03), depth=dict(lr=0.1))),  # x3, x100
    conventional=dict(stage='conventional', schedules=_schedules,
                      recipes=dict(cls=dict(lr=0.1), depth=dict(lr=0.03))),  # x10, x30
    # the 10% fine-tuning, Up-G's point for every adapted role
    finetune_schedules={role: _finetune for role in ('up-a', 'best-up-e', 'up-g')},
    # sizes for the 20-image 10% subsets: batches of 16; detection repeats the subset
    # 70 times per epoch (87 iterations, as every fraction). seg x3 (both sides), depth
    # x3 (Up-G's point; the counterparts' own above), cls x1 (Up-G's point)
    recipes=dict(cls=dict(batch_size=16), det=dict(repeat=70), seg=dict(lr=0.3),
                 depth=dict(lr=3e-3)),
)

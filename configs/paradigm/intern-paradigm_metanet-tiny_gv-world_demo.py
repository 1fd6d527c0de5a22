# The README's demo (make demo): INTERN's claim on one world seed, all four task families
#   GV world (seed 0) + its downstream stream (images no upstream stage reads)
#   -> Up-A -> Up-E experts (cls / det / seg) -> Up-G, and the conventional pre-training
#      counterpart (a classifier trained from scratch on the world's cls sources)
#   -> per family: Up-G adapted with 10% (its protocol and schedule chosen on seed 0's val)
#      vs the counterpart trained on 100% that seed 0's val chose (role and schedule)
#   -> four verdict lines with their margins, and the figure (summary.png).
# make claim adds what a claim needs and a demo cannot afford: every counterpart and
# adapted role, the better counterpart on val, seeds 1-3 (docs/claim.md).
#
#   python tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_demo.py \
#       --work-dir work_dirs/demo
_base_ = ['./intern-paradigm_metanet-tiny_gv-world_claim.py']

work_dir = 'work_dirs/demo'
world = dict(root='data/gv_world_demo')
# workers = 2, worker_threads = 1 (the claim config's): the stages and downstream parts
# as jobs, two processes at once, one thread each

# the choices made on seed 0: Up-G's protocols and the schedules in the design run
# (docs/claim/design/seed0.json); the counterpart per family, the better on val at the
# learning rates chosen on seed 0 and with the claim config's stages (docs/claim.md, "The
# demo"; every rate is the claim config's)
_none = ()
downstream = dict(
    backbones=dict(_delete_=True, **{'up-g': 'up-g'}),
    protocols=dict(_delete_=True, **{'up-g': dict(
        cls=('probe', ), det=('finetune', ), seg=('finetune', ), depth=('finetune', ))}),
    finetune_schedules=dict(_delete_=True, **{'up-g': dict(det=(3, ), seg=(10, ),
                                                            depth=(10, ))}),
    scratch=dict(schedules=dict(_delete_=True, cls=(3, ), det=_none, seg=_none,
                                depth=_none)),
    conventional=dict(schedules=dict(_delete_=True, cls=_none, det=(3, ), seg=(10, ),
                                     depth=(10, ))),
    # the claim section's last line
    note=('One seed, Up-G and one counterpart per family at the choices make claim made on '
          'seed 0; make claim adds the grids, every counterpart and adapted role, and '
          'seeds 1-3 with mean margins and their spread (docs/claim.md).'),
)

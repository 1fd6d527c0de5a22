# A tiny MetaNet for CPU smoke runs of GV-B (not a published model).
backbone = dict(type='MetaNet', arch='tiny', out_indices=(4, ))

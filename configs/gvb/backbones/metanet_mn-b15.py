# GV-A MetaNet MN-B15 (1.0B parameters) backbone for GV-B.
backbone = dict(type='MetaNet', arch='mn-b15', out_indices=(4, ))

# GV-A MetaNet MN-B4 backbone for GV-B (tools/gvb.py run --backbone THIS --checkpoint X).
# Classification uses out index 4 (the pooled 1280-d vector); det/seg/depth use the four
# maps (out_indices 0-3, set automatically by the GV-B protocols).
backbone = dict(type='MetaNet', arch='mn-b4', out_indices=(4, ))

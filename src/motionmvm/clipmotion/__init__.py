"""Per-clip motion inputs from the per-video motion caches.

`motion_for_clip(entry, kind, frame_indices, crop_box, flip, out_size, patch, tubelet_t)` turns
one cache entry (`read_entry`) into the arrays the masking strategies (mgm: kind mv, mgmae: flow,
fgdm: klt) and the MME trajectory target (traj) take for one sampled, cropped, resized and maybe
flipped clip; `collate_motion` batches them. See `clip.py` for the per-kind details.
"""
from motionmvm.clipmotion.cache_io import KINDS, read_entry
from motionmvm.clipmotion.clip import motion_for_clip
from motionmvm.clipmotion.collate import collate_motion

__all__ = ["KINDS", "read_entry", "motion_for_clip", "collate_motion"]

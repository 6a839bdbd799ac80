"""Motion extraction, cached once per video: codec motion vectors (`mv`), dense optical flow
(`flow`), KLT motion maps (`klt`) and MME trajectories (`traj`).

Formats: docs/ARCHITECTURE.md, "Motion cache formats". Read entries with
`motionmvm.motion.cache.read(cache_dir, kind, clip_id)`.
"""
KINDS = ("mv", "flow", "klt", "traj")

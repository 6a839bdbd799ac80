"""Pretraining: the loop, checkpoints with exact resume, distributed helpers, clip data."""

"""One launcher for GPU jobs: in-process, local subprocesses, or SLURM (or submitit's local
cluster) via submitit, with job arrays over seeds and requeue-and-resume on timeout/preemption.

Python API: `launch(fn, arg_lists, settings, backend=...)`; CLI: `motionmvm launch -- <step args>`.
"""
from motionmvm.launch.core import LaunchError, LaunchSettings, Resumable, StepCommand, launch

__all__ = ["LaunchError", "LaunchSettings", "Resumable", "StepCommand", "launch"]

"""Dispatch a resumable callable over a list of argument tuples (one job per tuple, e.g. per seed).

Resumption contract: the callable itself restores its state (the pretraining loop reloads
`runs/.../checkpoint.pt` when started again with the same arguments). The launcher's part is to
start it again with the *same* arguments after an interruption:
- submitit/SLURM: `Resumable.checkpoint()` returns the same call as a DelayedSubmission, which
  submitit pickles and requeues (`scontrol requeue`) when SLURM signals a timeout or preemption;
  a plain `scontrol requeue` (SIGTERM, then rerun of the same pickle) resumes the same way.
- subprocess: a child killed by a signal (preempted, OOM-killed) is started again, at most
  `max_requeues` times.
- inprocess: no restart (an exception propagates), used for tests and the smoke profile.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import submitit

BACKENDS = ("inprocess", "subprocess", "submitit")


class LaunchError(RuntimeError):
    """A job that failed (after the allowed restarts), naming the job and its arguments."""


@dataclasses.dataclass
class LaunchSettings:
    """The `launch:` section of params.yaml (schema: workflow/schemas/sections/launch.schema.yaml)."""
    backend: str = "inprocess"
    cluster: str = "auto"
    partition: str | None = None
    nodes: int = 1
    gpus_per_node: int = 0
    tasks_per_node: int = 1
    cpus_per_task: int = 2
    mem_gb: float = 8
    timeout_min: int = 60
    signal_delay_s: int = 90
    max_requeues: int = 3
    array_parallelism: int = 8
    folder: str = "logs/launch"

    @classmethod
    def from_config(cls, cfg: dict, step: str | None = None) -> "LaunchSettings":
        """`launch:` overlaid with `resources.<step>` (the step's GPUs, CPUs, memory, time); a step
        without an entry (a CPU step such as `config`) gets `launch:` as it is."""
        section = {**(cfg.get("launch") or {}), **((cfg.get("resources") or {}).get(step) or {})}
        unknown = set(section) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise LaunchError(f"unknown launch settings {sorted(unknown)}")
        return cls(**section)


def resources_key(step_argv: list[str]) -> str:
    """The `resources:` key of a `motionmvm <step ...>` command: its sub-command words up to the
    first option, joined by `_` (`tokenizer train --kind 2d` -> tokenizer_train,
    `mar-finetune` -> mar_finetune)."""
    words = []
    for arg in step_argv:
        if arg.startswith("-"):
            break
        words.append(arg.replace("-", "_"))
    return "_".join(words)


class Resumable(submitit.helpers.Checkpointable):
    """Wraps a callable so submitit requeues it with the same arguments on timeout/preemption.

    The default `Checkpointable.checkpoint` already resubmits `self(*args)`; the wrapped callable
    writes its own checkpoints as it goes, so nothing needs saving at signal time (a save inside a
    signal handler could race with the loop's own save).
    """

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn

    def __call__(self, *args):
        set_distributed_env()
        return self.fn(*args)

    def checkpoint(self, *args, **kwargs):
        return submitit.helpers.DelayedSubmission(Resumable(self.fn), *args, **kwargs)


@dataclasses.dataclass
class StepCommand:
    """`motionmvm <argv...>` as a picklable callable; `{seed}` in argv is filled per job."""
    argv: list[str]

    def __call__(self, seed: int | None = None) -> int:
        from motionmvm.cli import main

        argv = [a.replace("{seed}", str(seed)) if seed is not None else a for a in self.argv]
        rc = main(argv)
        if rc:
            raise LaunchError(f"`motionmvm {' '.join(argv)}` exited with status {rc}")
        return rc


def set_distributed_env(port: int = 29500) -> dict:
    """Inside a submitit job, export torch.distributed's env:// variables (RANK, LOCAL_RANK,
    WORLD_SIZE, MASTER_ADDR, MASTER_PORT) from the job environment, one process per task (GPU).
    Outside a job (JobEnvironment raises) nothing is set. Returns what was set."""
    try:
        env = submitit.JobEnvironment()
    except RuntimeError:
        return {}
    job_id = "".join(ch for ch in str(env.job_id) if ch.isdigit()) or "0"
    values = {"RANK": env.global_rank, "LOCAL_RANK": env.local_rank, "WORLD_SIZE": env.num_tasks,
              "MASTER_ADDR": env.hostnames[0], "MASTER_PORT": port + int(job_id) % 1000}
    values = {k: str(v) for k, v in values.items()}
    os.environ.update(values)
    return values


def snakemake_flags(executor_plugin_name: str | None) -> str:
    """Extra `motionmvm launch` flags for GPU rules: submitit when Snakemake runs on SLURM."""
    return "--backend submitit" if executor_plugin_name == "slurm" else ""


def _run_inprocess(fn, arg_lists):
    return [fn(*args) for args in arg_lists]


def _run_subprocess(fn, arg_lists, settings: LaunchSettings):
    """Each job in a fresh Python process (one at a time); restarted if killed by a signal."""
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="motionmvm-launch-"))
    try:
        for i, args in enumerate(arg_lists):
            job = workdir / f"job{i}.pkl"
            out = workdir / f"job{i}.result.pkl"
            import cloudpickle  # submitit's dependency; pickles test-local callables too

            job.write_bytes(cloudpickle.dumps((fn, tuple(args))))
            for attempt in range(settings.max_requeues + 1):
                proc = subprocess.run([sys.executable, "-m", "motionmvm.launch.runner", str(job), str(out)],
                                      env={**os.environ, "MOTIONMVM_LAUNCH_ATTEMPT": str(attempt)})
                if proc.returncode == 0:
                    break
                if proc.returncode > 0:  # the job itself failed: restarting would fail again
                    raise LaunchError(f"job {i} {args} failed with exit status {proc.returncode}")
                print(f"motionmvm launch: job {i} {args} killed by signal {-proc.returncode}; "
                      f"restarting (attempt {attempt + 1})", file=sys.stderr)
            else:
                raise LaunchError(f"job {i} {args} was killed {settings.max_requeues + 1} times")
            results.append(pickle.loads(out.read_bytes()))
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def make_executor(settings: LaunchSettings) -> submitit.AutoExecutor:
    """A submitit executor with the resources of `settings` (cluster picked by `settings.cluster`)."""
    cluster = settings.cluster
    if cluster == "auto":
        cluster = "slurm" if shutil.which("sbatch") else "local"
    ex = submitit.AutoExecutor(folder=Path(settings.folder) / "%j", cluster=cluster,
                               slurm_max_num_timeout=settings.max_requeues)
    params = dict(timeout_min=settings.timeout_min, nodes=settings.nodes,
                  tasks_per_node=settings.tasks_per_node, cpus_per_task=settings.cpus_per_task,
                  mem_gb=settings.mem_gb)
    if settings.gpus_per_node:
        params["gpus_per_node"] = settings.gpus_per_node
    if cluster == "slurm":
        params.update(slurm_partition=settings.partition, slurm_signal_delay_s=settings.signal_delay_s,
                      slurm_array_parallelism=settings.array_parallelism,
                      slurm_additional_parameters={"requeue": True})
        if settings.partition is None:
            params.pop("slurm_partition")
    ex.update_parameters(**params)
    return ex


def _run_submitit(fn, arg_lists, settings: LaunchSettings):
    ex = make_executor(settings)
    columns = list(zip(*arg_lists)) if arg_lists and arg_lists[0] else []
    if columns:
        jobs = ex.map_array(Resumable(fn), *columns)  # one SLURM job array
    else:
        jobs = [ex.submit(Resumable(fn)) for _ in arg_lists]
    print("motionmvm launch: submitted " + ", ".join(j.job_id for j in jobs), file=sys.stderr, flush=True)
    results = []
    for job, args in zip(jobs, arg_lists):
        try:
            results.append(job.result())
        except Exception as exc:  # submitit re-raises the job's failure with its log tail
            raise LaunchError(f"job {job.job_id} {tuple(args)} failed: {exc}") from exc
    return results


def launch(fn: Callable[..., Any], arg_lists: Sequence[Sequence[Any]], settings: LaunchSettings,
           backend: str | None = None) -> list[Any]:
    """Run `fn(*args)` for every args in `arg_lists` on `backend` (default: settings.backend).

    Returns the results in order; raises LaunchError naming the failed job.
    """
    backend = backend or settings.backend
    if backend not in BACKENDS:
        raise LaunchError(f"backend {backend!r} is not allowed; allowed values are {list(BACKENDS)}")
    arg_lists = [tuple(a) for a in arg_lists]
    if backend == "inprocess":
        return _run_inprocess(fn, arg_lists)
    if backend == "subprocess":
        return _run_subprocess(fn, arg_lists, settings)
    return _run_submitit(fn, arg_lists, settings)

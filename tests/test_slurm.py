"""On a real one-node SLURM cluster started by the test (root; skips with the reason otherwise):
a submitit job interrupted mid-training is requeued and ends identical to an uninterrupted run."""
import subprocess
import time
from pathlib import Path

import pytest

from motionmvm.launch import LaunchSettings, Resumable, launch
from motionmvm.launch.core import make_executor
from tests.helpers import resumable_train as rt
from tests.helpers import slurm_cluster

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running cluster for the whole session; daemons stopped at the end."""
    try:
        cluster = slurm_cluster.start()
    except slurm_cluster.SlurmUnavailable as exc:
        pytest.skip(f"no test SLURM cluster: {exc}")
    mp = pytest.MonkeyPatch()
    mp.setenv("SLURM_CONF", str(cluster.conf))  # clients (sbatch, squeue, scontrol) in every child
    yield cluster
    mp.undo()
    slurm_cluster.stop(cluster)


def _wait_for_step(run: Path, step: int, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    ck = run / "checkpoint.pkl"
    while time.monotonic() < end:
        if ck.exists():
            import pickle
            try:
                if pickle.loads(ck.read_bytes())["step"] >= step:
                    return
            except Exception:  # caught between write and rename: try again
                pass
        time.sleep(0.2)
    raise AssertionError(f"{run} never reached step {step}")


def _release_requeued(job_id: str, timeout: float = 60) -> None:
    """SLURM holds a requeued job for 120 s (BeginTime); let it start now, as an admin may."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T %r"], capture_output=True,
                             text=True, timeout=30).stdout.split()
        if out[:2] == ["PENDING", "BeginTime"]:
            subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True, timeout=30)
            return
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} was not requeued within {timeout} s")


def test_requeued_and_preempted_jobs_resume_exactly(slurm, tmp_path):
    steps = 60
    ref = [launch(rt.train, [(str(tmp_path / f"ref{s}"), steps, s)], LaunchSettings())[0] for s in (0, 1)]
    s = LaunchSettings(backend="submitit", cluster="slurm", folder=str(tmp_path / "logs"), timeout_min=10,
                       cpus_per_task=1, mem_gb=0.2)
    ex = make_executor(s)
    runs = [tmp_path / "run0", tmp_path / "run1"]
    jobs = ex.map_array(Resumable(rt.train), [str(r) for r in runs], [steps, steps], [0, 1], [0.1, 0.1])
    _wait_for_step(runs[0], 10)
    _wait_for_step(runs[1], 10)
    # seed 0: the administrator requeues it (SIGTERM, then the same submission runs again);
    # seed 1: preemption signal -> Resumable.checkpoint() -> submitit requeues itself.
    subprocess.run(["scontrol", "requeue", jobs[0].job_id], check=True, timeout=30)
    subprocess.run(["scancel", "--signal=USR2", jobs[1].job_id], check=True, timeout=30)
    for job in jobs:
        _release_requeued(job.job_id)
    results = [j.result() for j in jobs]
    for run, res, want in zip(runs, results, ref):
        starts = rt.starts(run)
        assert len(starts) == 2, starts  # started, interrupted, started again
        assert int(starts[1][0]) >= 10  # ... from its checkpoint, not from scratch
        assert res["w_sha256"] == want["w_sha256"]
        assert res["slurm_job_id"] is not None


def test_snakemake_slurm_profile_runs_all_with_job_ids_in_provenance(slurm, tmp_path):
    """`snakemake --profile slurm all` on the smoke profile, plus two probe rules written as the
    areas write theirs: a CPU rule (SLURM executor) and a GPU localrule calling `motionmvm launch`;
    every job id in the provenance (report and each run's metrics) is a SLURM job's."""
    from motionmvm.io import read_json
    from motionmvm.report.html import read_provenance
    from tests.helpers.repo_copy import copy_repo, env, use_smoke_profile

    repo = copy_repo(tmp_path / "repo")
    # Two methods (the tube baseline and mgm, which reads the codec motion cache): 28 jobs with
    # every protocol and reference row, data, motion, pretraining, aggregate, report and audit.
    # tests/test_dvc.py runs all six methods (tokenizers included) without SLURM; here each job
    # also starts a Snakemake of its own, and the six-method DAG took 9 of the suite's 20 minutes.
    use_smoke_profile(repo, methods=("videomae", "mgm"))
    (repo / "workflow/rules/zz_probe.smk").write_text(
        "localrules: gpu_probe\n\n"
        "rule cpu_probe:\n"
        "    output: f'{RESULTS}/cpu_probe.txt'\n"
        "    shell: 'echo $SLURM_JOB_ID > {output}'\n\n"
        "rule gpu_probe:\n"
        "    output: f'{RESULTS}/gpu_probe.txt'\n"
        "    shell: 'motionmvm launch {LAUNCH} -- config {ARGS} && ls logs/launch > {output}'\n\n"
        "ALL_TARGETS.extend([f'{RESULTS}/cpu_probe.txt', f'{RESULTS}/gpu_probe.txt'])\n")
    e = env(repo, SLURM_CONF=str(slurm.conf))
    smk = ["snakemake", "--config", "profile=smoke"]
    proc = subprocess.run([*smk, "--profile", "slurm", "--seconds-between-status-checks", "2", "all"],
                          cwd=repo, env=e, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    job_ids = [(repo / "results/smoke/cpu_probe.txt").read_text().strip()]
    job_ids.append(read_provenance(repo / "results/smoke/report.html")["slurm_job_id"])
    for metrics in (repo / "runs/smoke").glob("**/metrics.json"):  # every step in `all`
        job_ids.append((read_json(metrics).get("provenance") or {}).get("slurm_job_id"))
    assert all(j is not None and j.isdigit() for j in job_ids), job_ids
    launched = (repo / "results/smoke/gpu_probe.txt").read_text().split()
    assert launched and all(j.isdigit() for j in launched), launched  # submitit folders named by job id
    for job in launched:  # ... of SLURM jobs (not submitit's local pids)
        shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, timeout=30)
        assert shown.returncode == 0 and "JobState=COMPLETED" in shown.stdout, shown.stdout + shown.stderr


def test_cluster_refuses_to_start_without_root(monkeypatch):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(slurm_cluster.SlurmUnavailable, match="not root"):
        slurm_cluster.start()


def test_cluster_never_overwrites_a_real_slurm_conf(monkeypatch, tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=production\n")
    monkeypatch.setattr(slurm_cluster, "SYSTEM_CONF", conf)
    monkeypatch.setattr(slurm_cluster, "STATE", tmp_path / "state")
    with pytest.raises(slurm_cluster.SlurmUnavailable, match="not overwriting"):
        slurm_cluster.write_conf("node1")
    assert conf.read_text() == "ClusterName=production\n"

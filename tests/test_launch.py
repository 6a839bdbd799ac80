"""The launcher runs a resumable job in-process, as subprocesses (restarting a killed child so
that it resumes exactly) and through submitit (job array over seeds); the CLI wraps steps."""
import functools
import subprocess
import sys

import pytest

from motionmvm import config
from motionmvm.launch import LaunchError, LaunchSettings, launch
from motionmvm.launch.core import make_executor
from tests.helpers import resumable_train as rt


def test_inprocess_runs_one_job_per_seed_deterministically(tmp_path):
    s = LaunchSettings(backend="inprocess")
    a = launch(rt.train, [(str(tmp_path / "a0"), 20, 0), (str(tmp_path / "a1"), 20, 1)], s)
    b = launch(rt.train, [(str(tmp_path / "b0"), 20, 0)], s)
    assert a[0]["w_sha256"] == b[0]["w_sha256"]
    assert a[0]["w_sha256"] != a[1]["w_sha256"]  # the seed matters


def test_subprocess_restarts_a_killed_job_which_resumes_exactly(tmp_path):
    s = LaunchSettings(backend="subprocess", max_requeues=2)
    ref = launch(rt.train, [(str(tmp_path / "ref"), 30, 3)], s)[0]
    run = tmp_path / "killed"
    got = launch(functools.partial(rt.train, kill_at_step=12), [(str(run), 30, 3)], s)[0]
    starts = rt.starts(run)
    assert [int(line[0]) for line in starts] == [0, 12]  # started fresh, then resumed at step 12
    assert got["w_sha256"] == ref["w_sha256"]


def test_subprocess_gives_up_after_max_requeues(tmp_path):
    def always_killed(out):
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(LaunchError, match="killed 2 times"):
        launch(always_killed, [(str(tmp_path),)], LaunchSettings(backend="subprocess", max_requeues=1))


def test_subprocess_failure_is_not_retried_and_names_the_job(tmp_path):
    def fails(x):
        raise ValueError("boom")

    with pytest.raises(LaunchError, match=r"job 0 \(7,\) failed with exit status 1"):
        launch(fails, [(7,)], LaunchSettings(backend="subprocess"))


def test_unknown_backend_is_refused():
    with pytest.raises(LaunchError, match="allowed values"):
        launch(print, [()], LaunchSettings(), backend="kubernetes")


def test_submitit_local_cluster_job_array(tmp_path):
    s = LaunchSettings(backend="submitit", cluster="local", folder=str(tmp_path / "logs"), timeout_min=5,
                       cpus_per_task=1)
    ex = make_executor(s)
    assert ex.cluster == "local"
    res = launch(rt.train, [(str(tmp_path / "s0"), 10, 0), (str(tmp_path / "s1"), 10, 1)], s)
    ref = launch(rt.train, [(str(tmp_path / "r0"), 10, 0)], LaunchSettings())
    assert res[0]["w_sha256"] == ref[0]["w_sha256"] and res[1]["w_sha256"] != res[0]["w_sha256"]


def test_slurm_executor_carries_gpus_tasks_and_requeue(tmp_path, monkeypatch):
    # submitit's SlurmExecutor refuses to exist without `srun` on PATH (its affinity check); this
    # test is about our parameters and the sbatch script they produce, not a cluster, so it stands
    # in for srun whether or not the machine has SLURM (tests/test_slurm.py runs the real one).
    import submitit.slurm.slurm as submitit_slurm

    monkeypatch.setattr(submitit_slurm.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    s = LaunchSettings(cluster="slurm", gpus_per_node=4, tasks_per_node=4, partition="gpu",
                       folder=str(tmp_path), timeout_min=30, signal_delay_s=60)
    ex = make_executor(s)
    p = ex._executor.parameters
    assert (p["gpus_per_node"], p["ntasks_per_node"], p["partition"]) == (4, 4, "gpu")
    assert p["signal_delay_s"] == 60 and p["additional_parameters"] == {"requeue": True}
    script = ex._executor._make_submission_file_text("python -m job", "uid")
    for line in ("#SBATCH --gpus-per-node=4", "#SBATCH --ntasks-per-node=4", "#SBATCH --partition=gpu",
                 "#SBATCH --signal=USR2@60", "#SBATCH --requeue", "#SBATCH --time=30"):
        assert line in script.splitlines(), line


def test_launch_section_is_validated(tmp_path):
    import yaml
    raw = yaml.safe_load(open("params.yaml"))
    raw["launch"]["backend"] = "cloud"
    (tmp_path / "workflow").symlink_to(config.schema_dir("params.yaml").parent.resolve())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(config.ConfigError, match=r"launch\.backend: 'cloud'.*allowed values"):
        config.load(tmp_path / "params.yaml")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "motionmvm.cli", "launch", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_runs_a_step_through_the_subprocess_backend():
    proc = _cli("--backend", "subprocess", "--", "config", "--profile", "smoke")
    assert proc.returncode == 0, proc.stderr
    assert "profile: smoke" in proc.stdout


def test_cli_reports_a_failing_step_and_bad_usage(capsys):
    from motionmvm.cli import main
    assert main(["launch", "--", "config", "--params", "missing.yaml"]) != 0
    assert "missing.yaml" in "".join(capsys.readouterr())
    assert main(["launch", "--seeds", "0", "1", "--", "config", "--profile", "smoke"]) == 2
    assert "no {seed}" in capsys.readouterr().err


def test_cli_runs_one_job_per_seed(capsys):
    from motionmvm.cli import main
    argv = ["launch", "--params", "params.yaml", "--profile", "smoke", "--seeds", "7", "8", "--",
            "config", "--params", "p{seed}.yaml"]
    assert main(argv) != 0
    assert "no parameter file at p7.yaml" in "".join(capsys.readouterr())  # {seed} filled per job


def test_gpu_rules_use_submitit_only_under_the_slurm_executor():
    from motionmvm.launch.core import snakemake_flags
    assert snakemake_flags("slurm") == "--backend submitit"
    assert snakemake_flags("local") == "" and snakemake_flags(None) == ""


def test_distributed_env_from_a_submitit_job(monkeypatch):
    from motionmvm.launch.core import set_distributed_env
    for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        # setenv first so that teardown restores the original (absent) state of what the code sets;
        # a leaked WORLD_SIZE=8 makes later in-process training wait for 7 missing peers.
        monkeypatch.setenv(k, "")
        monkeypatch.delenv(k)
    assert set_distributed_env() == {}  # not inside a job: nothing set
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    monkeypatch.setenv("SLURM_JOB_ID", "1234")
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu[07-08]")
    got = set_distributed_env()
    assert got == {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "MASTER_ADDR": "gpu07",
                   "MASTER_PORT": str(29500 + 234)}

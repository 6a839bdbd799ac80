"""A real one-node SLURM cluster (Debian's slurmctld + slurmd + munge) for tests, started as root.

`start()` installs the packages with apt-get when they are missing, writes a munge key and a
slurm.conf naming this host, starts munged, slurmctld and slurmd, and waits for the node to be
idle; `stop()` ends exactly the daemons it started (by pid). Every reason it cannot start (not
root, no apt, a daemon that will not come up) is raised as `SlurmUnavailable` with that reason so
the fixture can skip with it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sinfo", "sbatch", "munged"]
STATE = Path("/var/spool/motionmvm-test-slurm")  # our config, state, spool, logs, pid files
MUNGE_KEY = Path("/etc/munge/munge.key")
# Job steps started inside jobs (the Snakemake SLURM executor's `srun`) do not inherit SLURM_CONF,
# so the config must be at the default path as on a real cluster.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by tests/helpers/slurm_cluster.py"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


class SlurmUnavailable(RuntimeError):
    """Why a test SLURM cluster cannot be started here."""


@dataclass
class Cluster:
    conf: Path
    host: str
    partition: str = "debug"
    pids: dict = field(default_factory=dict)

    @property
    def env(self) -> dict:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def _run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def ensure_packages() -> None:
    if os.geteuid() != 0:
        raise SlurmUnavailable("not root: the test SLURM cluster needs root to start slurmd/munged")
    if all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in BINARIES):
        return
    if not shutil.which("apt-get"):
        raise SlurmUnavailable(f"SLURM binaries {BINARIES} missing and no apt-get to install {PACKAGES}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        inst = _run(["apt-get", "install", "-y", "-q", *PACKAGES], timeout=900, env=env)
        if inst.returncode != 0:  # stale package lists: update once and retry
            _run(["apt-get", "update", "-q"], timeout=300, env=env)
            inst = _run(["apt-get", "install", "-y", "-q", *PACKAGES], timeout=900, env=env)
    except subprocess.TimeoutExpired:
        raise SlurmUnavailable(f"apt-get install {PACKAGES} timed out") from None
    if inst.returncode != 0:
        raise SlurmUnavailable(f"apt-get install {PACKAGES} failed: {inst.stderr.strip()[-500:]}")


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(int(line.split()[1]) / 1024 * 0.8)
    raise SlurmUnavailable("cannot read MemTotal from /proc/meminfo")


def write_conf(host: str) -> Path:
    for sub in ("ctld", "d", "log"):
        (STATE / sub).mkdir(parents=True, exist_ok=True)
    conf = SYSTEM_CONF
    if conf.exists() and MARKER not in conf.read_text():
        raise SlurmUnavailable(f"{conf} exists and was not written by this fixture: not overwriting a real cluster's config")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f"""{MARKER}: a one-node test cluster
ClusterName=motionmvm-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=2
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
SchedulerType=sched/backfill
# schedule within a second (defaults are tuned for big clusters: 60 s main loop, 30 s backfill)
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
StateSaveLocation={STATE}/ctld
SlurmdSpoolDir={STATE}/d
SlurmctldPidFile={STATE}/slurmctld.pid
SlurmdPidFile={STATE}/slurmd.pid
SlurmctldLogFile={STATE}/log/slurmctld.log
SlurmdLogFile={STATE}/log/slurmd.log
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={_mem_mb()} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")
    return conf


def _munge_works() -> bool:
    if not shutil.which("munge"):
        return False
    try:
        enc = _run(["munge", "-n"], timeout=10)
        return enc.returncode == 0 and _run(["unmunge"], input=enc.stdout, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_munge(pids: dict) -> None:
    if _munge_works():
        return  # a munged is already serving this host; leave it alone
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
        MUNGE_KEY.write_bytes(os.urandom(1024))
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o400)
    for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
        Path(d).mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "munge", "munge")
    pidfile = Path("/run/munge/motionmvm-test-munged.pid")  # munged (user munge) must write it
    started = _run(["runuser", "-u", "munge", "--", "munged", "--pid-file", str(pidfile)], timeout=30)
    if started.returncode != 0:
        raise SlurmUnavailable(f"munged did not start: {started.stderr.strip()}")
    _wait(_munge_works, 20, "munged to answer")
    pids["munged"] = int(pidfile.read_text())


def _wait(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.5)
    raise SlurmUnavailable(f"timed out after {timeout:.0f} s waiting for {what}")


def _kill_stale() -> None:
    """Daemons left by an earlier run that crashed (their pid files are ours)."""
    for name in ("slurmd", "slurmctld"):
        pidfile = STATE / f"{name}.pid"
        if pidfile.exists():
            try:
                _terminate(int(pidfile.read_text()))
            except ValueError:
                pass
            pidfile.unlink(missing_ok=True)


def _terminate(pid: int, grace: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start(timeout: float = 90) -> Cluster:
    ensure_packages()
    host = socket.gethostname().split(".")[0]
    _kill_stale()
    conf = write_conf(host)
    cluster = Cluster(conf=conf, host=host)
    try:
        start_munge(cluster.pids)
        env = cluster.env
        for daemon, args in (("slurmctld", ["-c", "-i"]), ("slurmd", [])):
            proc = _run([daemon, "-f", str(conf), *args], env=env, timeout=60)
            if proc.returncode != 0:
                log = (STATE / "log" / f"{daemon}.log")
                tail = log.read_text()[-800:] if log.exists() else ""
                raise SlurmUnavailable(f"{daemon} did not start: {proc.stderr.strip()} {tail}")
            pidfile = STATE / f"{daemon}.pid"
            _wait(pidfile.exists, 20, f"{daemon} pid file")
            _wait(lambda: pidfile.read_text().strip() != "", 5, f"{daemon} pid")
            cluster.pids[daemon] = int(pidfile.read_text())

        def idle():
            out = _run(["sinfo", "-h", "-o", "%t"], env=env, timeout=10)
            return out.returncode == 0 and out.stdout.strip() == "idle"
        _wait(idle, timeout, f"sinfo to show {host} idle (logs in {STATE}/log)")
    except BaseException:
        stop(cluster)
        raise
    return cluster


def stop(cluster: Cluster) -> None:
    """Stop the daemons this cluster started, newest first (cancel leftover jobs before)."""
    if "slurmctld" in cluster.pids:
        try:
            _run(["scancel", "--full", "-u", "root"], env=cluster.env, timeout=10)
        except subprocess.TimeoutExpired:
            pass
    for name in ("slurmd", "slurmctld", "munged"):
        if name in cluster.pids:
            _terminate(cluster.pids.pop(name))
    if cluster.conf.exists() and MARKER in cluster.conf.read_text():
        cluster.conf.unlink()

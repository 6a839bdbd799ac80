"""benchmarks/gpu.sh --dry: every part of the GPU benchmark runs on the CPU with tiny sizes and
prints its figures with the machine line (the GPU run itself needs a GPU machine)."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_dry_run_prints_every_part():
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    proc = subprocess.run(["bash", "benchmarks/gpu.sh", "--dry"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert re.search(r"^machine: .+ logical cores; gpu: .+; date: \d{4}-\d\d-\d\d", out, re.M)
    assert "DRY (CPU, tiny sizes)" in out
    assert re.search(r"^steps .* eager: [\d.]+ clips/s, .* GFLOP/clip .*MFU n/a", out, re.M)
    wait = re.search(r"^loader .*real loop, 2 workers.* ([\d.]+) clips/s, waiting for data ([\d.]+)%", out, re.M)
    assert wait and float(wait.group(1)) > 0 and 0 <= float(wait.group(2)) < 100
    assert re.search(r"^flow .*RAFT-small.*: [\d.]+ frames/s; codec motion vectors .*: [\d.]+ frames/s on 1 core",
                     out, re.M)
    assert re.search(r"^mgmae .* [\d.]+ masks/s .* visible fraction 0\.0[5-7]", out, re.M)  # 90% masked


def test_gpu_benchmark_refuses_to_run_without_a_gpu_unless_dry():
    import torch

    if torch.cuda.is_available():
        return
    env = dict(os.environ, PYTHONPATH=f"{REPO / 'src'}:{REPO / 'benchmarks'}")
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--parts", "mgmae"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA device visible" in proc.stderr

"""Child process of the subprocess backend: `python -m motionmvm.launch.runner JOB.pkl RESULT.pkl`."""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

import cloudpickle


def main(job_path: str, result_path: str) -> int:
    fn, args = cloudpickle.loads(Path(job_path).read_bytes())
    result = fn(*args)
    from motionmvm.io import atomic_write_bytes

    atomic_write_bytes(result_path, pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

"""DDP from environment variables: 2 gloo processes with batch B make the same update as one
process with batch 2B (the data order gives the two ranks the two halves of the combined batch)."""
import os
import socket
import subprocess
import sys

import torch

from motionmvm import config, methods

from pretrain_helpers import REPO, write_params

SCRIPT = """
import sys, numpy as np
from motionmvm import config
from motionmvm.data.clips import ArrayVideos
from motionmvm.train.loop import pretrain
params, run, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = config.load(params, "smoke")
cfg["pretrain"]["batch_size"] = batch
videos = ArrayVideos([np.random.default_rng(i).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
                      for i in range(8)])
pretrain(cfg, "videomae", "synth", 0, run_dir=run, videos=videos)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _weights(run):
    return torch.load(run / "encoder.pt", weights_only=True)["state_dict"]


def test_two_gloo_processes_equal_one_process_on_the_combined_batch(tmp_path):
    # 8 clips, global batch 4 -> 2 optimizer steps in one epoch, with warmup so the lr is not zero.
    params = write_params(tmp_path, "smoke", pretrain={"epochs": 1, "warmup_epochs": 1, "threads": 1})
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", WORLD_SIZE="2",
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(params), str(tmp_path / "ddp"), "2"],
                              env=dict(env, RANK=str(r), LOCAL_RANK=str(r)), stderr=subprocess.PIPE)
             for r in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()[-2000:]
    single_env = {k: v for k, v in env.items() if k not in ("WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    subprocess.run([sys.executable, "-c", SCRIPT, str(params), str(tmp_path / "one"), "4"],
                   env=single_env, check=True, capture_output=True)
    ddp, one = _weights(tmp_path / "ddp"), _weights(tmp_path / "one")
    assert torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["step"] == 2
    torch.manual_seed(0)  # the loop seeds torch with the run seed before building the model
    init = methods.get("videomae").build(config.load(params, "smoke")).encoder.state_dict()
    for k in one:
        torch.testing.assert_close(ddp[k], one[k], rtol=1e-5, atol=1e-6, msg=k)
    assert not torch.equal(one["patch_embed.weight"], init["patch_embed.weight"])  # it trained
    # Only rank 0 writes outputs.
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir() if p.suffix in (".pt", ".json", ".csv")) == \
        ["checkpoint.pt", "encoder.pt", "log.csv", "log.partial.csv", "metrics.json"]

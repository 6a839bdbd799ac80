"""The training step: torch.compile agrees with eager, a non-finite loss is caught at the next
sync point with a one-line error, per-run accounting (clips/s, data wait, FLOPs, MFU) is recorded,
and the attention of every transformer uses the fused kernel."""
import numpy as np
import pytest
import torch

from motionmvm import config
from motionmvm.train import accounting
from motionmvm.data.clips import ArrayVideos
from motionmvm.train.loop import pretrain
from pretrain_helpers import write_params


def _cfg(tmp, **pretrain_over):
    tmp.mkdir(parents=True, exist_ok=True)
    over = {"epochs": 1, "log_every": 1, "ckpt_every": 100, "threads": 1, **pretrain_over}
    return config.load(write_params(tmp, "smoke", pretrain=over), "smoke")


def _videos(n=4):
    return ArrayVideos([np.random.default_rng(i).integers(0, 255, (6, 40, 48, 3), dtype=np.uint8)
                        for i in range(n)])


def _losses(run_dir):
    import csv

    with open(run_dir / "log.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_compiled_and_eager_losses_agree(tmp_path):
    eager = pretrain(_cfg(tmp_path / "e"), "videomae", "synth", 0, run_dir=tmp_path / "e" / "run",
                     videos=_videos(), progress=False)
    compiled = pretrain(_cfg(tmp_path / "c", compile=True), "videomae", "synth", 0,
                        run_dir=tmp_path / "c" / "run", videos=_videos(), progress=False)
    assert compiled["compiled"] and not eager["compiled"]
    a, b = _losses(tmp_path / "e" / "run"), _losses(tmp_path / "c" / "run")
    assert len(a) == len(b) == eager["steps"] >= 2
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


def test_metrics_record_the_step_accounting(tmp_path):
    m = pretrain(_cfg(tmp_path), "videomae", "synth", 0, run_dir=tmp_path / "run", videos=_videos(),
                 progress=False)
    assert m["clips_per_s"] > 0 and 0 <= m["data_wait_fraction"] < 1
    assert m["precision"] == "float32" and m["mfu"] is None and m["peak_flops_bf16"] is None
    # the counted FLOPs of one step: forward + backward is about 3x the forward alone
    cfg = _cfg(tmp_path / "f")
    from motionmvm import methods
    from motionmvm.train.loop import mask_grid

    model = methods.get("videomae").build(cfg)
    t, h, w = mask_grid(model)
    batch_size = cfg["pretrain"]["batch_size"]
    mask = torch.zeros(batch_size, t * h * w, dtype=torch.bool)
    mask[:, : mask.shape[1] * 3 // 4] = True
    batch = {"video": torch.randn(batch_size, 3, cfg["pretrain"]["frames"], 32, 32), "mask": mask}
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as fwd:
        model(batch)
    assert 2.5 < m["flops_per_step"] / fwd.get_total_flops() < 3.5


def test_mfu_against_the_peak_table():
    assert accounting.peak_flops("NVIDIA H200") == 989.4e12
    assert accounting.peak_flops("NVIDIA H100 PCIe") == 756e12
    assert accounting.peak_flops("Intel(R) Xeon(R)") is None
    assert accounting.mfu(1e12, 100, 1.0, 1e15) == pytest.approx(0.1)
    assert accounting.mfu(1e12, 100, 1.0, None) is None
    assert accounting.autocast_dtype("auto", torch.device("cpu")) is None
    assert accounting.autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16


def test_non_finite_loss_fails_at_the_sync_point(tmp_path, monkeypatch):
    from motionmvm.methods.spec import MethodSpec

    calls = {"n": 0}
    build = MethodSpec.build

    def poisoned(self, cfg_):
        model = build(self, cfg_)
        forward = model.forward

        def forward_nan(batch):
            calls["n"] += 1
            out = forward(batch)
            if calls["n"] == 3:  # 1: the FLOP count, 2: step 1, 3: step 2
                out = {**out, "loss": out["loss"] * float("nan")}
            return out
        model.forward = forward_nan
        return model

    monkeypatch.setattr(MethodSpec, "build", poisoned)
    with pytest.raises(FloatingPointError, match=r"non-finite loss in steps 1-3"):
        pretrain(_cfg(tmp_path, log_every=3, ckpt_every=3), "videomae", "synth", 0,
                 run_dir=tmp_path / "run", videos=_videos(6), progress=False)
    assert calls["n"] == 4  # no host sync stopped the loop before the boundary at step 3
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_attention_is_fused(tmp_path):
    from timm.models.vision_transformer import Attention

    from motionmvm import methods

    model = methods.get("videomae").build(_cfg(tmp_path))
    attn = [m for m in model.modules() if isinstance(m, Attention)]
    assert len(attn) >= 2 and all(m.fused_attn for m in attn)  # encoder + decoder blocks

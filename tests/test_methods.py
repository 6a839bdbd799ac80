"""Method specs: masks per method, the pixel target, the paper optimizer recipes, and that the
pretraining loss goes down on a fixed batch."""
import numpy as np
import pytest
import torch

from motionmvm import config, methods
from motionmvm.methods.pixel import pixel_target
from motionmvm.train.optim import build_optimizer, param_groups, warmup_cosine

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def smoke_cfg():
    return config.load("params.yaml", "smoke")


def test_registered_methods_and_unknown_name():
    assert {"videomae", "stmae"} <= set(methods.names())
    with pytest.raises(KeyError, match="registered methods"):
        methods.get("nope")


def test_videomae_masks_are_tubes_at_90_percent():
    spec = methods.get("videomae")
    m = spec.mask_fn((8, 14, 14), 0, np.random.default_rng(0))
    assert m.shape == (8, 14, 14) and m.dtype == np.bool_
    assert (m == m[0]).all()  # same spatial map at every time step
    assert m[0].sum() == int(0.9 * 196)


def test_stmae_masks_are_random_in_space_time():
    spec = methods.get("stmae")
    m = spec.mask_fn((8, 14, 14), 0, np.random.default_rng(0))
    assert m.sum() == int(0.9 * 8 * 196)
    assert not (m == m[0]).all()  # differs over time, unlike a tube
    same = spec.mask_fn((8, 14, 14), 0, np.random.default_rng(0))
    assert (m == same).all()


def test_pixel_target_is_normalised_per_tubelet_and_channel():
    torch.manual_seed(0)
    v = torch.rand(2, 3, 4, 16, 16)
    t = pixel_target(v, tubelet=2, patch=8)
    assert t.shape == (2, 2 * 2 * 2, 2 * 8 * 8 * 3)
    per = t.reshape(2, 8, 128, 3)
    assert torch.allclose(per.mean(2), torch.zeros(2, 8, 3), atol=1e-5)
    assert torch.allclose(per.std(2), torch.ones(2, 8, 3), atol=1e-3)
    # Invariant to per-channel affine input normalisation (mean/std of the data pipeline).
    scale, shift = torch.tensor([2.0, 0.5, 3.0]).view(1, 3, 1, 1, 1), torch.tensor([1.0, -2, 0.3]).view(1, 3, 1, 1, 1)
    assert torch.allclose(pixel_target(v * scale + shift, 2, 8), t, atol=1e-3)
    # Token order (t, h, w): token 1 is time slice 0, row 0, column 1.
    manual = v[0, :, 0:2, 0:8, 8:16].permute(1, 2, 3, 0).reshape(-1, 3)
    manual = (manual - manual.mean(0)) / manual.std(0)
    assert torch.allclose(t[0, 1].reshape(-1, 3), manual, atol=1e-4)


def test_videomae_optimizer_recipe_scales_lr_with_batch_and_skips_decay_on_norms(smoke_cfg):
    spec = methods.get("videomae")
    assert spec.optim.name == "adamw" and spec.optim.betas == (0.9, 0.95) and spec.optim.weight_decay == 0.05
    model = spec.build(smoke_cfg)
    opt = build_optimizer(model, spec.optim, global_batch=512)
    assert isinstance(opt, torch.optim.AdamW)
    assert all(g["lr"] == pytest.approx(3e-4) for g in opt.param_groups)
    decays = {g["weight_decay"] for g in opt.param_groups}
    assert decays == {0.0, 0.05}
    groups = param_groups(model, spec.optim, 1.0)
    no_decay = [g for g in groups if g["weight_decay"] == 0]
    assert any(p is model.decoder.mask_token for g in no_decay for p in g["params"])


def test_warmup_then_cosine():
    f = warmup_cosine(10, 110, 0.0)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0, abs=1e-12)
    assert all(f(s) >= f(s + 1) for s in range(10, 110))


@pytest.mark.parametrize("method", ["videomae", "stmae"])
def test_loss_goes_down_on_a_fixed_batch(smoke_cfg, method):
    spec = methods.get(method)
    torch.manual_seed(0)
    model = spec.build(smoke_cfg)
    p = smoke_cfg["pretrain"]
    video = torch.randn(2, 3, p["frames"], p["size"], p["size"])
    grid = model.encoder.cfg.grid
    mask = torch.from_numpy(np.stack([spec.mask_fn(grid, 0, np.random.default_rng(i)) for i in range(2)]))
    batch = {"video": video, "mask": mask}
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        out = model(batch)
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert out["pred"].shape == out["target"].shape == (2, int(mask[0].sum()), 2 * 8 * 8 * 3)
    assert losses[-1] < 0.8 * losses[0], losses

"""Method specs: masks per method, the pixel target, the paper optimizer recipes, and that the
pretraining loss goes down on a fixed batch."""
import numpy as np
import pytest
import torch

from motionmvm import config, methods
from motionmvm.targets import pixel_target
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


def test_pixel_methods_and_mme_share_one_model_and_the_shared_targets_and_heads(smoke_cfg):
    from motionmvm import models
    from motionmvm.methods.pixel import MaskedTargetModel

    torch.manual_seed(0)
    vmae, mme = methods.get("videomae").build(smoke_cfg), methods.get("mme_pixel").build(smoke_cfg)
    assert isinstance(vmae, MaskedTargetModel) and isinstance(mme, MaskedTargetModel)
    # MME's decoder is the models area's depth-1 mme_head, not a second copy of a decoder
    assert type(mme.decoder) is type(models.build("mme_head_tiny")) and len(mme.decoder.blocks) == 1
    p, e = smoke_cfg["pretrain"], vmae.encoder.cfg
    video = torch.randn(2, 3, p["frames"], p["size"], p["size"])
    mask = torch.from_numpy(np.stack([methods.get("videomae").mask_fn(e.grid, 0, np.random.default_rng(i))
                                      for i in range(2)]))
    expected = pixel_target(video, patch=e.patch, tubelet=e.tubelet)[mask.reshape(2, -1)]
    for model in (vmae, mme):
        out = model({"video": video, "mask": mask})
        torch.testing.assert_close(out["target"].reshape(expected.shape), expected)


def test_draw_mask_hands_each_strategy_only_the_motion_it_reads():
    """The flow cache gives flow and flow_backward; MGMAE takes both, MGM's flow-guidance
    ablation only the forward flow (no unexpected keyword)."""
    from motionmvm.methods.masks import draw_mask
    from motionmvm.methods.spec import MethodSpec

    rng = np.random.default_rng(0)
    flow = np.zeros((7, 32, 32, 2), np.float32)
    flow[..., 0] = 2.0
    motion = {"flow": flow, "flow_backward": -flow}
    for name, ratio in (("mgmae", 0.75), ("mgm", 0.5)):
        spec = MethodSpec(name=name, masking=name, mask_ratio=ratio, target="pixel", builder=None)
        m = draw_mask(spec, (4, 4, 4), 0, rng, motion)
        assert m.shape == (4, 4, 4) and m.dtype == np.bool_

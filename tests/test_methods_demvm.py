"""DEMVM through the real pretraining loop: Swin encoder, FGDM masks from a KLT cache, PMR, token
targets on the tokenizer's grid. Needs the models (Swin, DEMVM decoder), masking, targets and
motion packages; skipped in a checkout without them."""
import numpy as np
import pytest
import torch

pytest.importorskip("motionmvm.masking")
pytest.importorskip("motionmvm.targets")
pytest.importorskip("motionmvm.clipmotion")
pytest.importorskip("motionmvm.models.swin3d")
pytest.importorskip("motionmvm.models.heads")

from motionmvm import config, methods  # noqa: E402
from motionmvm.train.loop import pretrain  # noqa: E402
from motionmvm.train.optim import build_optimizer  # noqa: E402
from pretrain_helpers import write_demvm_inputs, write_params, write_videos  # noqa: E402

FRAMES, H, W, SIZE, N_CODES = 16, 40, 48, 32, 64


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demvm")
    params = write_params(tmp, "smoke", pretrain={"epochs": 1, "threads": 1, "frames": 8})
    write_videos(tmp / "data" / "smoke" / "synth", n=4, frames=FRAMES, size=(H, W))
    write_demvm_inputs(tmp / "cache" / "smoke" / "synth", [f"clip{i}" for i in range(4)], frames=FRAMES,
                       height=H, width=W, size=SIZE, n_codes=N_CODES, rng=np.random.default_rng(0))
    cfg = config.load(params, "smoke")
    cfg.setdefault("tokenizer", {}).update(n_codes=N_CODES, size=SIZE)
    return tmp, cfg


@pytest.mark.parametrize("method", ["demvm", "demvm_2d", "demvm_nopmr", "demvm_nofgdm", "demvm_random"])
def test_demvm_pretrains_through_the_loop(project, method):
    tmp, cfg = project
    m = pretrain(cfg, method, "synth", 0, run_dir=tmp / method, progress=False)
    assert m["steps"] == 2 and np.isfinite(m["loss_last"])
    # cross-entropy over a 64-code book starts near log(64)
    assert 2.0 < m["loss_first"] < 6.0
    enc = torch.load(tmp / method / "encoder.pt", weights_only=True)
    assert enc["model"] == "swin3d_tiny"


def test_demvm_recipe_adam_with_stratified_encoder_lr(project):
    _, cfg = project
    spec = methods.get("demvm")
    model = spec.build(cfg)
    opt = build_optimizer(model, spec.optim, global_batch=24)
    assert isinstance(opt, torch.optim.Adam) and not isinstance(opt, torch.optim.AdamW)
    assert sorted({round(g["lr"], 12) for g in opt.param_groups}) == [round(5e-5 * 5e-3, 12), 5e-5]
    enc_ids = {id(p) for p in model.encoder.parameters()}
    for g in opt.param_groups:
        is_enc = all(id(p) in enc_ids for p in g["params"])
        assert g["lr"] == pytest.approx(5e-5 * (5e-3 if is_enc else 1.0))


def test_pmr_raises_the_fgdm_ratio_with_the_epoch(project):
    _, cfg = project
    spec = methods.get("demvm_nofgdm")  # tube masking with PMR's spatial ratio
    grid = (4, 7, 7)
    early = spec.mask_fn(grid, 0, np.random.default_rng(0), {}, cfg["masking"])
    late = spec.mask_fn(grid, 100, np.random.default_rng(0), {}, cfg["masking"])
    assert early[0].mean() == pytest.approx(int(0.3 * 49) / 49)
    assert late[0].mean() == pytest.approx(int(0.8 * 49) / 49)


def test_swin_2d_initialisation_from_a_local_timm_file(project, tmp_path):
    import timm

    _, cfg = project
    torch.manual_seed(0)
    net2d = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=128,
                              embed_dim=24, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4), window_size=4)
    torch.save(net2d.state_dict(), tmp_path / "swin2d.pt")
    cfg = {**cfg, "model": {**cfg["model"], "swin_init": str(tmp_path / "swin2d.pt")}}
    model = methods.get("demvm").build(cfg)
    torch.testing.assert_close(model.encoder.layers[0].blocks[0].attn.qkv.weight,
                               net2d.layers[0].blocks[0].attn.qkv.weight)
    fresh = methods.get("demvm").build({**cfg, "model": {**cfg["model"], "swin_init": None}})
    assert not torch.equal(fresh.encoder.layers[0].blocks[0].attn.qkv.weight,
                           net2d.layers[0].blocks[0].attn.qkv.weight)

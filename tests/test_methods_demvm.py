"""DEMVM through the real pretraining loop: Swin encoder, FGDM masks from a KLT cache, PMR, token
targets on the tokenizer's grid. Uses the models (Swin, DEMVM decoder), masking, targets and
motion packages."""
import dataclasses

import numpy as np
import pytest
import torch

from motionmvm import config, methods
from motionmvm.train.loop import pretrain
from motionmvm.train.optim import build_optimizer
from pretrain_helpers import write_demvm_inputs, write_params, write_videos

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
    # metrics.json says which 2D init the encoder had (none here) and the encoder lr it trained at
    assert m["encoder_2d_init"] == {"kind": "none"} and m["encoder_lr_mult"] == 1.0


def _swin2d_file(tmp_path):
    import timm

    torch.manual_seed(0)
    net2d = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=128,
                              embed_dim=24, depths=(1, 1, 2, 1), num_heads=(1, 2, 2, 4), window_size=4)
    torch.save(net2d.state_dict(), tmp_path / "swin2d.pt")
    return net2d, tmp_path / "swin2d.pt"


def _lrs(model, spec):
    opt = build_optimizer(model, spec.optim, global_batch=24)
    assert isinstance(opt, torch.optim.Adam) and not isinstance(opt, torch.optim.AdamW)
    enc_ids = {id(p) for p in model.encoder.parameters()}
    enc = {g["lr"] for g in opt.param_groups if all(id(p) in enc_ids for p in g["params"])}
    rest = {g["lr"] for g in opt.param_groups if not any(id(p) in enc_ids for p in g["params"])}
    assert len(enc) == 1 and len(rest) == 1 and len(opt.param_groups) == 4
    return enc.pop(), rest.pop()


def test_stratified_encoder_lr_only_with_2d_init(project, tmp_path):
    """The paper's stratified rate (encoder 5e-3 x 5e-5) exists for ImageNet-initialised weights; a
    random encoder (`swin_init: null`) trains at the base lr instead of being nearly frozen."""
    _, cfg = project
    spec = methods.get("demvm")
    random_init = spec.build({**cfg, "model": {**cfg["model"], "swin_init": None}})
    assert _lrs(random_init, spec) == (pytest.approx(5e-5), pytest.approx(5e-5))
    _, path = _swin2d_file(tmp_path)
    inited = spec.build({**cfg, "model": {**cfg["model"], "swin_init": str(path)}})
    assert _lrs(inited, spec) == (pytest.approx(5e-5 * 5e-3), pytest.approx(5e-5))
    assert inited.encoder_2d_init["kind"] == "file" and inited.encoder_2d_init["path"] == str(path.resolve())
    import hashlib
    assert inited.encoder_2d_init["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_swin_init_by_timm_name_and_its_errors(project, tmp_path, monkeypatch):
    import timm

    _, cfg = project
    spec = methods.get("demvm")
    net2d, _ = _swin2d_file(tmp_path)
    asked = []

    def fake_create(name, pretrained=False, **kw):   # stands in for timm's download
        asked.append((name, pretrained))
        return net2d

    monkeypatch.setattr(timm, "create_model", fake_create)
    name = "swin_tiny_patch4_window7_224.ms_in1k"
    model = spec.build({**cfg, "model": {**cfg["model"], "swin_init": name}})
    assert asked == [(name, True)] and model.encoder_2d_init == {"kind": "timm", "name": name}
    torch.testing.assert_close(model.encoder.layers[0].blocks[0].attn.qkv.weight,
                               net2d.layers[0].blocks[0].attn.qkv.weight)

    def offline(name, pretrained=False, **kw):
        raise OSError("We couldn't connect to 'https://huggingface.co'\nmore")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(RuntimeError, match=r"could not fetch .* torch.save") as err:
        spec.build({**cfg, "model": {**cfg["model"], "swin_init": name}})
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="neither an existing file nor a timm model name"):
        spec.build({**cfg, "model": {**cfg["model"], "swin_init": "no_such_model"}})
    with pytest.raises(FileNotFoundError, match="no state dict file"):
        spec.build({**cfg, "model": {**cfg["model"], "swin_init": str(tmp_path / "missing.pt")}})


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


def test_pmr_rises_every_iteration_inside_the_first_epoch(project):
    """The paper raises the ratios "by the iterations": the loop's sample keys carry the progress
    step / steps_per_epoch, and a clip half-way through epoch 0 is masked more than the first one."""
    from motionmvm.masking import pmr
    from motionmvm.train.samples import MaskedClips
    from motionmvm.train.order import StepOrder

    order = StepOrder(40, seed=0, batch=2, accum=2, world=1, rank=0, total_steps=30)
    assert order.steps_per_epoch == 10
    keys = [k for mb in order.micro_batches(5) for k in mb]
    assert {k[0] for k in keys} == {0} and {k[2] for k in keys} == {0.5}
    assert {k[2] for mb in order.micro_batches(23) for k in mb} == {2.3}

    _, cfg = project
    # tube masking with PMR's P_spa (its count follows the ratio exactly), on plain clips
    spec = dataclasses.replace(methods.get("demvm_nofgdm"), target="pixels")
    grid = (4, 8, 8)
    clips = MaskedClips(_ArrayVideos(), spec, grid=grid, num_frames=8, stride=1, size=32, seed=0,
                        masking_cfg=cfg["masking"])
    p = cfg["masking"]["fgdm"]["pmr"]
    for progress in (0.0, 0.3, 0.9, 7.5):
        want = pmr(p["spa_start"], p["spa_end"], progress, p["total_epochs"])
        mask = clips[(0, 0, progress)]["mask"].numpy()
        assert mask[0].sum() == int(want * 64), progress
    assert clips[(0, 0, 0.9)]["mask"].sum() > clips[(0, 0)]["mask"].sum()


class _ArrayVideos:
    def __len__(self):
        return 2

    def num_frames(self, i):
        return 16

    def frame_hw(self, i):
        return 32, 32

    def read(self, i, indices):
        return np.zeros((len(indices), 32, 32, 3), np.uint8)


def test_paper_recipe_for_the_paper_profile():
    """DEMVM's paper experiment: 10 epochs at a global batch of 24 (not the shared 800 x 256), PMR
    with Ep = 100 (never saturated: P_spa ends at 0.3 + 0.5 sqrt(0.1)), fine-tuning 30 epochs."""
    from motionmvm.masking import pmr
    from motionmvm.methods.demvm import PAPER_RECIPE, paper_config

    cfg = config.load("params.yaml", "paper")
    out = paper_config(cfg, world=4)
    p = out["pretrain"]
    assert (p["epochs"], p["warmup_epochs"], p["frames"], p["size"]) == (10, 0, 16, 224)
    assert p["batch_size"] * 4 * p["accum_steps"] == 24 and out["model"]["swin"] == "swin3d_b"
    ft = out["eval"]["finetune"]
    assert ft["epochs"] == 30 and ft["warmup_epochs"] == 0 and ft["weight_decay"] == 1e-5
    # the evaluation's lr rule (base_lr x batch x repeated_aug / 256) gives the paper's 5e-5
    assert ft["base_lr"] * ft["batch_size"] * ft["repeated_aug"] / 256 == pytest.approx(5e-5)
    assert ft["batch_size"] == 24
    s = out["masking"]["fgdm"]["pmr"]
    assert s["total_epochs"] == 100 and out["masking"]["fgdm"]["p_den"] == 0.7
    assert pmr(s["spa_start"], s["spa_end"], p["epochs"], s["total_epochs"]) == pytest.approx(0.458, abs=1e-3)
    assert PAPER_RECIPE["pretrain_datasets"] == ("ucf101", "hmdb51")
    assert cfg["pretrain"]["epochs"] == 800   # the shared profile itself is untouched
    config.validate(out, config.load_schema("params.yaml"))        # still a valid configuration
    with pytest.raises(ValueError, match="does not split"):
        paper_config(cfg, world=5)

"""Released encoders in and out: transformers' VideoMAE models and the official VideoMAE / MGMAE /
MME layouts import into our ViT with the same features; ours export to a VideoMAEModel that
transformers loads with the same features; misfits are refused in one line naming key and shapes."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from transformers import VideoMAEConfig, VideoMAEForPreTraining, VideoMAEModel
from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table

from motionmvm import models
from motionmvm.cli import main
from motionmvm.eval.encoder import build_encoder, read_checkpoint
from motionmvm.interop import hf, importer
from motionmvm.interop.read import CheckpointError
from motionmvm.models.vit import videomae_pos_embed

FIXTURES = Path(__file__).parent / "fixtures" / "official_vit"
OFFICIAL = json.loads((FIXTURES / "README.json").read_text())["variants"]
TOL = 1e-4


def _hf_config(**kw) -> VideoMAEConfig:
    base = dict(image_size=32, patch_size=8, num_channels=3, num_frames=4, tubelet_size=2, hidden_size=48,
                num_hidden_layers=2, num_attention_heads=2, intermediate_size=96, use_mean_pooling=False,
                decoder_hidden_size=24, decoder_num_hidden_layers=1, decoder_num_attention_heads=2,
                decoder_intermediate_size=48)
    return VideoMAEConfig(**{**base, **kw})


def _random(model):
    """Every parameter moved off its init (zero biases, unit norms would hide mapping mistakes)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def _clip(frames=4, size=32, seed=2):
    return torch.randn(2, 3, frames, size, size, generator=torch.Generator().manual_seed(seed))


def test_videomae_position_table_is_transformers_own():
    assert torch.allclose(videomae_pos_embed(32, 48), get_sinusoid_encoding_table(32, 48)[0], atol=1e-6)


@pytest.mark.parametrize("cls", [VideoMAEModel, VideoMAEForPreTraining])
@pytest.mark.parametrize("mean_pooling", [False, True])
def test_transformers_model_imports_with_the_same_features(tmp_path, cls, mean_pooling):
    theirs = _random(cls(_hf_config(use_mean_pooling=mean_pooling)))
    theirs.save_pretrained(tmp_path / "hf")
    ours, ckpt, record = importer.import_encoder(tmp_path / "hf")
    x = _clip()
    base = theirs if cls is VideoMAEModel else theirs.videomae
    with torch.no_grad():
        want = base(pixel_values=x.transpose(1, 2)).last_hidden_state  # transformers: [B, T, C, H, W]
        got = ours(x)
    assert got.shape == want.shape == (2, 2 * 4 * 4, 48)
    assert (got - want).abs().max() < TOL
    assert record["layout"] == "transformers" and ckpt["config"]["final_norm"] is (not mean_pooling)
    assert any(k.startswith("decoder.") for k in record["dropped_keys"]) is (cls is VideoMAEForPreTraining)


def test_our_encoder_exports_to_transformers_with_the_same_features(tmp_path):
    torch.manual_seed(3)
    ours = _random(models.build("vit_micro", img_size=32, num_frames=4, patch=8, pos_embed="videomae"))
    ckpt = {"model": "vit_micro", "config": {"img_size": 32, "num_frames": 4, "patch": 8, "pos_embed": "videomae"},
            "method": "videomae"}
    from motionmvm.eval.encoder import save_encoder

    save_encoder(tmp_path / "encoder.pt", ckpt, ours)
    assert main(["export-hf", "--encoder", str(tmp_path / "encoder.pt"), "--out", str(tmp_path / "hf")]) == 0
    theirs = VideoMAEModel.from_pretrained(tmp_path / "hf").eval()
    assert theirs.config.num_frames == 4 and theirs.config.image_size == 32 and not theirs.config.use_mean_pooling
    x = _clip()
    with torch.no_grad():
        want = ours(x)
        got = theirs(pixel_values=x.transpose(1, 2)).last_hidden_state
    assert (got - want).abs().max() < TOL
    # and back: the exported directory imports into the same encoder
    again, _, _ = importer.import_encoder(tmp_path / "hf")
    with torch.no_grad():
        assert (again(x) - want).abs().max() < TOL


def test_export_refuses_a_position_table_transformers_cannot_hold(tmp_path, capsys):
    from motionmvm.eval.encoder import save_encoder

    ours = models.build("vit_micro", img_size=32, num_frames=4, patch=8)  # our 3D sin-cos table
    save_encoder(tmp_path / "encoder.pt", {"model": "vit_micro", "config": {"img_size": 32, "num_frames": 4,
                                                                            "patch": 8}}, ours)
    assert main(["export-hf", "--encoder", str(tmp_path / "encoder.pt"), "--out", str(tmp_path / "hf")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'sincos3d' position table" in err and not (tmp_path / "hf").exists()


def _official_file(tmp_path: Path, variant: str) -> tuple[Path, dict]:
    """A checkpoint as the official training script saves it, rebuilt from the fixture's names,
    shapes and tensors (non-encoder parts as zeros of their shapes: the importer drops them)."""
    fx = torch.load(FIXTURES / f"{variant}.pt", weights_only=True)
    sd = {k: fx["encoder_tensors"].get(k, torch.zeros(shape)) for k, shape in fx["names_shapes"].items()}
    wrapped = {"videomae_pretrain": {"model": sd, "epoch": 799, "args": argparse.Namespace(model="pretrain")},
               "videomae_finetune": {"module": sd},
               "mme_pretrain": {"model": {f"module.{k}": v for k, v in sd.items()}},
               "mgmae_pretrain": sd}[variant]
    path = tmp_path / f"{variant}.pth"
    torch.save(wrapped, path)
    return path, fx


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_official_layouts_import_with_the_official_features(tmp_path, variant):
    path, fx = _official_file(tmp_path, variant)
    ours, ckpt, record = importer.import_encoder(path, frames=fx["frames"], size=fx["size"], num_heads=fx["num_heads"])
    with torch.no_grad():
        got = ours(fx["input"])
    assert (got - fx["tokens"]).abs().max() < TOL
    assert record["layout"] == "videomae" and len(record["source"]["sha256"]) == 64
    finetuned = variant == "videomae_finetune"
    assert ckpt["config"]["pos_embed"] == ("learned" if finetuned else "videomae")
    assert ckpt["config"]["final_norm"] is (not finetuned) and bool(ckpt["config"]["layer_scale"]) is finetuned
    assert ckpt["config"]["norm_eps"] == 1e-6
    assert ("head.weight" in record["dropped_keys"]) is finetuned


@pytest.mark.parametrize("variant", sorted(OFFICIAL))
def test_release_size_names_and_shapes_map_onto_our_vit_b(variant):
    """The ViT-B release's names and shapes (first two blocks) fit our vit_b one to one."""
    from motionmvm.interop import layouts

    fx = torch.load(FIXTURES / f"{variant}.pt", weights_only=True)
    keep = {k: torch.zeros(s) for k, s in fx["base_names_shapes"].items()
            if not any(f"blocks.{i}." in k for i in range(2, 64)) or "decoder" in k}
    _, ours, arch, _ = layouts.convert(keep)
    assert (arch["embed_dim"], arch["depth"], arch["patch"], arch["tubelet"]) == (768, 2, 16, 2)
    ref = models.build("vit_b", depth=2, pos_embed=arch["pos_embed"], final_norm=arch["final_norm"],
                       layer_scale=arch["layer_scale"]).state_dict()
    importer.check_shapes(ours, ref, "ViT-B")


def test_mismatched_geometry_is_refused_naming_key_and_shapes(tmp_path, capsys):
    path, fx = _official_file(tmp_path, "videomae_finetune")  # learned positions: 32 tokens at 16 x 16px
    with pytest.raises(CheckpointError, match=r"^pos_embed: checkpoint shape \[1, 32, 24\] does not fit our "
                                              r"ViT's \[1, 128, 24\]"):
        importer.import_encoder(path, frames=16, size=32, num_heads=2)
    theirs = VideoMAEModel(_hf_config())
    theirs.save_pretrained(tmp_path / "hf")
    capsys.readouterr()
    assert main(["import-checkpoint", "--profile", "smoke", "--name", "x", "--checkpoint", str(tmp_path / "hf"),
                 "--size", "64", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "geometry" in err and "64" in err and not (tmp_path / "out").exists()


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": {"w": torch.zeros(1)}, "hook": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="not readable as weights only"):
        importer.import_encoder(tmp_path / "evil.pth", frames=16, size=16)
    torch.save({"conv1.weight": torch.zeros(4, 3, 7, 7)}, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match="unknown key layout"):
        importer.import_encoder(tmp_path / "resnet.pth", frames=16, size=16)


def test_cli_writes_an_encoder_that_evaluation_rebuilds(tmp_path, capsys):
    theirs = _random(VideoMAEForPreTraining(_hf_config()))
    theirs.save_pretrained(tmp_path / "hf")
    out = tmp_path / "runs" / "videomae-hf" / "seed0"
    assert main(["import-checkpoint", "--profile", "smoke", "--name", "videomae-hf", "--checkpoint",
                 str(tmp_path / "hf"), "--out", str(out)]) == 0
    ckpt = read_checkpoint(out / "encoder.pt")
    record = json.loads((out / "import.json").read_text())
    assert ckpt["method"] == "videomae-hf" and ckpt["input"] == {"frames": 4, "size": 32, "patch": [2, 8, 8],
                                                                 "grid": [2, 4, 4]}
    from motionmvm.eval.encoder import drop_path_override

    assert drop_path_override(ckpt, 0.1) == {"drop_path": 0.1}  # fine-tuning's stochastic depth applies
    assert record["layout"] == "transformers" and len(record["source"]["sha256"]) == 64
    assert record["provenance"]["seed"] == 0 and record["encoder"]["sha256"]
    enc = build_encoder(ckpt, pretrained=True, seed=0).eval()
    x = _clip()
    with torch.no_grad():
        want = theirs.videomae(pixel_values=x.transpose(1, 2)).last_hidden_state
        assert (enc(x) - want).abs().max() < TOL


def test_params_pos_embed_videomae_trains_exportable_encoders():
    from motionmvm import config
    from motionmvm.methods.pixel import build_vit_encoder

    cfg = config.load(config.PROJECT_ROOT / "params.yaml", "smoke", overrides={"model": {"pos_embed": "videomae"}})
    enc = build_vit_encoder(cfg)
    assert enc.cfg.pos_embed == "videomae"
    assert hf.to_videomae_model(enc).config.num_frames == cfg["pretrain"]["frames"]


def test_an_imported_entry_is_evaluated_like_a_method_in_the_workflow(tmp_path):
    """Dry run of `all` with an imported entry: rule import_checkpoint makes its encoder.pt per seed
    and every protocol (finetune, linear probe, few-shot, domain adaptation) evaluates it."""
    import os
    import subprocess
    import sys

    import yaml

    from tests.helpers.workflow_dir import workflow_dir

    work = workflow_dir(tmp_path)
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["experiment"]["imported"] = {"videomae-official": "ckpt/videomae.pth"}
    (work / "params.yaml").unlink()
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (work / "ckpt").mkdir()
    (work / "ckpt" / "videomae.pth").write_bytes(b"")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "all", "-n", "-p", "--cores", "1", "--config",
                           "profile=smoke"], cwd=work, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for seed in params["experiment"]["seeds"]:
        assert (f"motionmvm import-checkpoint --params params.yaml --profile smoke --name videomae-official "
                f"--seed {seed}") in out
    # GPU steps run through the launcher: `motionmvm launch ... -- <step> <args>`; the smoke profile
    # (eval.process_per_encoder) runs fine-tuning, linear probe and few-shot of one encoder as one
    # `evaluate` step
    for step in ("evaluate", "domain-adapt"):
        assert f" -- {step} --params params.yaml --profile smoke --method videomae-official" in out
    for protocol in ("linear_probe", "fewshot"):
        assert f"runs/smoke/eval/{protocol}/videomae-official/" in out
    assert "pretrain --params params.yaml --profile smoke --method videomae-official" not in out


def test_an_imported_name_may_not_shadow_a_method():
    from motionmvm import config

    cfg = config.load(config.PROJECT_ROOT / "params.yaml", "smoke",
                      overrides={"experiment": {"imported": {"videomae": "x.pth"}}})
    with pytest.raises(config.ConfigError, match="'videomae' is already a method name"):
        config.encoder_methods(cfg)

"""Protocols end to end on in-memory clips with a tiny test-double encoder (see eval_doubles)."""
import json

import numpy as np
import pytest
import torch

from motionmvm.eval import encoder as enc_mod
from motionmvm.eval import protocols
from motionmvm.eval.flops import count_gflops
from motionmvm.eval.mar import MARModel, pixel_target
from motionmvm.eval.metrics import recompute_metrics
from eval_doubles import MeanBridge, TinyEncoder, fake_dataset_dir, planted_bank

FT = {"epochs": 3, "scratch_epochs": 3, "warmup_epochs": 1, "batch_size": 4, "base_lr": 0.5, "min_lr": 1e-6,
      "weight_decay": 0.05, "betas": [0.9, 0.999], "layer_decay": 0.75, "drop_path": 0.0, "head_dropout": 0.0,
      "clip_grad": 0.0, "mixup": 0.8, "cutmix": 1.0, "mixup_prob": 1.0, "mixup_switch_prob": 0.5,
      "label_smoothing": 0.1, "randaug_n": 1, "randaug_m": 9, "reprob": 0.25, "repeated_aug": 2,
      "crop_scale": [0.5, 1.0], "hflip": 0.0, "test_clips": 2, "test_crops": 1, "max_train_clips": 0,
      "max_test_clips": 0}
PROBE = {"C": 1.0, "max_iter": 300, "max_train_clips": 0, "max_test_clips": 0}


def make_cfg():
    return {"profile": "smoke", "paths": {}, "data": {"store": {"enabled": False}}, "eval": {
        "threads": 1, "stride": 2, "batch_size": 8, "finetune": FT, "linear_probe": PROBE,
        "fewshot": {**PROBE, "dataset": "synth_mimed", "k": 2, "draws": 3}}}


@pytest.fixture
def doubles(monkeypatch, tmp_path):
    """Banks from memory and the tiny encoder instead of decoding videos / reading encoder.pt."""
    torch.set_num_threads(1)
    banks = {"train": planted_bank(10, 3, seed=0, split="train"), "test": planted_bank(6, 3, seed=1, split="test")}
    ddir = fake_dataset_dir(tmp_path)
    for split, bank in banks.items():  # what load_bank records of its selection
        bank.selection = {"dataset": str(ddir), "split": split, "max_clips": 0, "seed": 0}
    monkeypatch.setattr(protocols, "load_bank", lambda d, split, size, max_clips, seed, store_dir=None, classes=None: banks[split])
    monkeypatch.setattr(protocols, "_has_split", lambda d, split: True)
    ckpt = {"model": "tiny", "config": {}, "state_dict": {}}
    monkeypatch.setattr(enc_mod, "read_checkpoint", lambda path: ckpt)

    def build(ckpt, *, pretrained, seed, **overrides):
        torch.manual_seed(seed)
        return TinyEncoder(frames=4, size=16)

    monkeypatch.setattr(enc_mod, "build_encoder", build)
    enc_path = tmp_path / "encoder.pt"
    enc_path.write_bytes(b"weights")
    return {"ddir": ddir, "enc": enc_path, "tmp": tmp_path}


def test_linear_probe_planted_signal(doubles):
    out = doubles["tmp"] / "lp"
    m = protocols.linear_probe(make_cfg(), method="videomae", dataset_dir=doubles["ddir"],
                               encoder_path=doubles["enc"], out_dir=out, cache_dir=doubles["tmp"] / "feat", seed=0)
    assert m["top1"] >= 0.9, m["top1"]
    assert m["clips_evaluated"] == 18
    z = np.load(doubles["tmp"] / "feat" / "train.npz")
    assert z["features"].shape == (30, 16) and len(z["clip_ids"]) == 30
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["top1"] == recompute_metrics(out / "predictions.csv")["top1"]


def test_feature_cache_is_reused(doubles, monkeypatch):
    cfg = make_cfg()
    kw = dict(method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"],
              cache_dir=doubles["tmp"] / "feat", seed=0)
    protocols.linear_probe(cfg, out_dir=doubles["tmp"] / "a", **kw)
    import motionmvm.eval.probe as probe

    monkeypatch.setattr(probe, "extract_features", lambda *a, **k: pytest.fail("features recomputed"))
    protocols.linear_probe(cfg, out_dir=doubles["tmp"] / "b", **kw)


def test_fewshot_reports_draws_with_ci(doubles):
    out = doubles["tmp"] / "fs"
    m = protocols.fewshot(make_cfg(), method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"],
                          out_dir=out, cache_dir=doubles["tmp"] / "feat", seed=0, k=2, draws=3)
    assert len(m["top1_per_draw"]) == 3 and m["top1_over_draws"]["n"] == 3
    assert m["top1"] == pytest.approx(np.mean(m["top1_per_draw"]))
    assert all(len(s) == 6 for s in m["shots"])
    assert recompute_metrics(out / "predictions.csv")["top1_per_draw"] == m["top1_per_draw"]


def test_fewshot_test_only_dataset_scores_the_rest(doubles, monkeypatch):
    monkeypatch.setattr(protocols, "_has_split", lambda d, split: split != "train")
    out = doubles["tmp"] / "fs_test_only"
    m = protocols.fewshot(make_cfg(), method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"],
                          out_dir=out, cache_dir=doubles["tmp"] / "feat2", seed=0, k=2, draws=3)
    assert m["shot_split"] == "test"
    assert m["clips_evaluated"] == 3 * (18 - 6)  # each draw scores the 12 clips that were not shots
    ids = recompute_metrics(out / "predictions.csv")
    rows = (out / "predictions.csv").read_text().splitlines()[1:]
    for d, shots in enumerate(m["shots"]):
        scored = {r.split(",")[0].rsplit("#draw", 1)[0] for r in rows if r.split(",")[0].endswith(f"#draw{d}")}
        assert not scored & set(shots)
    assert ids["top1_over_draws"]["n"] == 3


def test_finetune_end_to_end(doubles):
    out = doubles["tmp"] / "ft"
    m = protocols.finetune(make_cfg(), method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"],
                           out_dir=out, seed=0, protocol_cfg=FT, log=lambda *_: None)
    assert m["views_per_video"] == 2 and m["gflops_per_view"] > 0 and len(m["history"]) == 3
    assert m["top1"] > 1 / 3   # planted colour signal: better than chance after 3 epochs
    assert json.loads((out / "metrics.json").read_text())["top1"] == recompute_metrics(out / "predictions.csv")["top1"]


def test_domain_adapt_maps_classes_by_name(doubles, monkeypatch):
    src = planted_bank(10, 3, seed=0, split="train")
    tgt = planted_bank(4, 3, seed=2, split="test")
    tgt = tgt.subset([i for i in range(len(tgt)) if tgt.labels[i] != 1])  # target lacks class1
    tgt.class_names = ["class0", "class2"]
    tgt.labels = np.where(tgt.labels == 2, 1, 0)
    src.selection = {"dataset": str(doubles["ddir"]), "split": "train", "max_clips": 0, "seed": 0}
    tgt.selection = {"dataset": str(doubles["ddir"]), "split": "test", "max_clips": 0, "seed": 0}
    monkeypatch.setattr(protocols, "load_bank", lambda d, split, *a, **k: src if split == "train" else tgt)
    out = doubles["tmp"] / "da"
    m = protocols.finetune(make_cfg(), method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"],
                           out_dir=out, seed=0, protocol_cfg=FT, eval_classes_from=doubles["ddir"], log=lambda *_: None)
    assert m["eval_classes"] == ["class0", "class2"] and m["class_names"] == ["class0", "class1", "class2"]
    _, labels, probs, _ = __import__("motionmvm.eval.metrics", fromlist=["x"]).read_predictions(out / "predictions.csv")
    assert set(labels.tolist()) == {0, 2}
    assert m["negative_transfer"] == pytest.approx(float((probs.argmax(1) == 1).mean()))


def test_mar_half_mask_costs_about_half_the_flops():
    torch.manual_seed(0)
    enc = TinyEncoder(frames=8, size=32, patch=8, dim=128, depth=6)
    mar = MARModel(enc, MeanBridge(128, 5), None).eval()
    full = enc_mod.VideoClassifier(enc, 128, 5, 0.0).eval()
    x = torch.randn(1, 3, 8, 32, 32)
    L = 4 * 4 * 4
    mask = torch.zeros(1, L, dtype=torch.bool)
    mask[0, torch.randperm(L)[: L // 2]] = True
    g_mar = count_gflops(lambda v: mar(v, mask, reconstruct=False)[0], x)
    g_full = count_gflops(full, x)
    # the patch embedding sees every token in both; the blocks see half of them under MAR 50%:
    # expected (conv + blocks / 2) / (conv + blocks) = (1 + 1) / (1 + 2) for this double
    assert g_mar < g_full
    assert g_mar / g_full == pytest.approx(2 / 3, abs=0.02)


def test_mar_pixel_target_is_the_videomae_target_of_the_unnormalised_clip():
    from motionmvm.eval.augment import MEAN, STD
    from motionmvm.targets import pixel_target as videomae_target

    x = torch.randn(2, 3, 4, 16, 16)
    t = pixel_target(x, tubelet=2, patch=8)
    assert t.shape == (2, 2 * 2 * 2, 2 * 8 * 8 * 3)
    px = x * torch.tensor(STD).view(1, 3, 1, 1, 1) + torch.tensor(MEAN).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(t, videomae_target(px, patch=8, tubelet=2))


def test_cell_running_masks_for_mar():
    from motionmvm.eval.mar import CellRunning

    cr = CellRunning((8, 4, 4), 0.5, seed=0)
    train = cr.train(3)
    assert train.shape == (3, 128) and train.dtype == torch.bool
    assert (train.sum(1) == 64).all()          # 50 %: the same visible count in every clip
    assert torch.equal(cr.test(2), cr.test(2))  # test mode is fixed
    assert torch.equal(cr.test(2)[0], cr.test(2)[1])


def test_mar_reconstruction_weight_per_dataset():
    """lambda: the paper's 0.1 (Table IX, SSv2) by default, the official K400 config's 0.01 on
    K400 (params eval.mar.recon_weight); a plain number applies everywhere."""
    from motionmvm import config
    from motionmvm.eval.mar import recon_weight_for

    setting = config.load("params.yaml", "paper")["eval"]["mar"]["recon_weight"]
    assert recon_weight_for(setting, "k400") == 0.01
    assert recon_weight_for(setting, "ssv2") == recon_weight_for(setting, None) == 0.1
    assert recon_weight_for(0.4, "k400") == 0.4


def test_mar_protocol_end_to_end(doubles, monkeypatch):
    import sys

    import motionmvm
    from eval_doubles import fake_models_module

    fake = fake_models_module()
    monkeypatch.setitem(sys.modules, "motionmvm.models", fake)
    monkeypatch.setattr(motionmvm, "models", fake, raising=False)
    cfg = make_cfg()
    cfg["eval"]["mar"] = {"epochs": 2, "warmup_epochs": 0, "recon_weight": 0.1,
                          "bridge": {}, "decoder": {"embed_dim": 8, "depth": 1, "num_heads": 2}}
    out = doubles["tmp"] / "mar"
    m = protocols.mar_finetune(cfg, dataset_dir=doubles["ddir"], encoder_path=doubles["enc"], out_dir=out, seed=0,
                               ratio=0.5, log=lambda *_: None)
    assert m["mask_ratio"] == 0.5 and m["decoder_init"] == "random" and len(m["history"]) == 2
    assert 0 < m["gflops_per_view"] < m["full_finetune_gflops_per_view"]
    assert m["throughput_views_per_s"] > 0 and m["full_finetune_throughput_views_per_s"] > 0
    assert json.loads((out / "metrics.json").read_text())["top1"] == recompute_metrics(out / "predictions.csv")["top1"]


def test_linear_head_reads_layer_normalised_pooled_features():
    """VideoMAE's fine-tuning model normalises the mean-pooled tokens (fc_norm) before the head:
    the pool of many normalised tokens is otherwise tiny and nearly the same for every clip."""
    from motionmvm.models.vit import build_vit

    torch.manual_seed(0)
    encoder = build_vit("vit_micro", num_frames=4, img_size=16, patch=8, tubelet=2)
    model = enc_mod.VideoClassifier(encoder, encoder.embed_dim, 3, 0.0)
    seen = {}
    model.head.register_forward_hook(lambda mod, inp, out: seen.setdefault("x", inp[0].detach()))
    model(torch.randn(2, 3, 4, 16, 16))
    x = seen["x"]
    assert torch.allclose(x.mean(-1), torch.zeros(2), atol=1e-4)
    assert torch.allclose(x.std(-1, unbiased=False), torch.ones(2), atol=1e-2)


def test_finetune_killed_after_an_epoch_resumes_exactly(doubles):
    """A requeued fine-tuning job continues from its per-epoch checkpoint with the same result as an
    uninterrupted run (weights, optimizer, clip / augmentation / mixup RNG streams restored)."""
    kw = dict(method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"], seed=0,
              protocol_cfg=FT)
    ref = protocols.finetune(make_cfg(), out_dir=doubles["tmp"] / "ref", log=lambda *_: None, **kw)
    assert not (doubles["tmp"] / "ref" / "checkpoint.pt").exists()  # removed once the run is written

    class Killed(Exception):
        pass

    def kill_at_epoch_1(msg):
        if msg.startswith("epoch 1:"):
            raise Killed  # after epoch 1 trained, before its checkpoint: epoch 0's is on disk

    out = doubles["tmp"] / "killed"
    with pytest.raises(Killed):
        protocols.finetune(make_cfg(), out_dir=out, log=kill_at_epoch_1, **kw)
    assert (out / "checkpoint.pt").exists()
    lines = []
    got = protocols.finetune(make_cfg(), out_dir=out, log=lines.append, **kw)
    assert lines[0].startswith("resumed from") and "after epoch 0" in lines[0]
    assert [h["loss"] for h in got["history"]] == [h["loss"] for h in ref["history"]]
    assert (out / "predictions.csv").read_text() == (doubles["tmp"] / "ref" / "predictions.csv").read_text()


def test_finetune_ignores_a_checkpoint_of_other_settings(doubles):
    kw = dict(method="videomae", dataset_dir=doubles["ddir"], encoder_path=doubles["enc"], seed=0)
    out = doubles["tmp"] / "other"

    def stop(msg):
        if msg.startswith("epoch 1:"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        protocols.finetune(make_cfg(), out_dir=out, protocol_cfg={**FT, "base_lr": 0.1}, log=stop, **kw)
    assert (out / "checkpoint.pt").exists()
    lines = []
    protocols.finetune(make_cfg(), out_dir=out, protocol_cfg=FT, log=lines.append, **kw)
    assert "belongs to other settings" in lines[0]

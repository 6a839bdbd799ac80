import numpy as np
import pytest
import torch

from motionmvm.eval.engine import average_views, predict
from motionmvm.eval.encoder import VideoClassifier
from motionmvm.eval.probe import draw_shots
from motionmvm.eval.recipe import ClipMixup, lr_at, param_groups_llrd
from eval_doubles import TinyEncoder, planted_bank


def test_llrd_groups_scale_by_depth():
    torch.manual_seed(0)
    model = VideoClassifier(TinyEncoder(depth=3), 16, 5, 0.0)
    groups = param_groups_llrd(model, weight_decay=0.05, layer_decay=0.75, num_layers=3)
    scale = {}
    for g in groups:
        for name in g["param_names"]:
            scale[name] = g["lr_scale"]
            if name.endswith(".bias") or "norm" in name:
                assert g["weight_decay"] == 0.0, name
    assert scale["encoder.patch_embed.weight"] == pytest.approx(0.75 ** 4)
    assert scale["encoder.blocks.0.1.weight"] == pytest.approx(0.75 ** 3)
    assert scale["encoder.blocks.2.1.weight"] == pytest.approx(0.75 ** 1)
    assert scale["head.weight"] == 1.0 and scale["encoder.norm.weight"] == 1.0
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(model.parameters()))


def test_lr_schedule_warmup_then_cosine():
    assert lr_at(0, 100, 10, 1.0, 0.0) == pytest.approx(0.1)
    assert lr_at(9, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert lr_at(55, 100, 10, 1.0, 0.0) == pytest.approx(0.5)
    assert lr_at(100, 100, 10, 1.0, 0.01) == pytest.approx(0.01)


def test_mixup_targets_are_distributions_and_smoothed():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 4, 8, 8)
    y = torch.tensor([0, 1, 2, 3])
    mix = ClipMixup(5, mixup=0.8, cutmix=0.0, prob=1.0, switch_prob=0.0, label_smoothing=0.1)
    xm, t = mix(x, y)
    assert t.shape == (4, 5) and torch.allclose(t.sum(1), torch.ones(4))
    # mixup pairs each clip with the batch flipped: weights lam on own label, 1 - lam on the partner's
    lam = ((xm[0] - x[3]) / (x[0] - x[3])).median().item()
    off = 0.1 / 5
    assert t[0, 0].item() == pytest.approx(lam * (1 - 0.1 + off) + (1 - lam) * off, abs=1e-4)
    assert t[0, 3].item() == pytest.approx((1 - lam) * (1 - 0.1 + off) + lam * off, abs=1e-4)


def test_cutmix_box_covers_every_frame_and_label_weights_match_area():
    torch.manual_seed(1)
    x = torch.zeros(2, 3, 4, 16, 16)
    x[1] = 1.0
    mix = ClipMixup(2, mixup=0.0, cutmix=1.0, prob=1.0, switch_prob=0.0, label_smoothing=0.0)
    xm, t = mix(x, torch.tensor([0, 1]))
    pasted = xm[0]                                  # clip 0 with a box from clip 1
    per_frame = pasted[0].reshape(4, -1).mean(1)
    assert torch.allclose(per_frame, per_frame[0].expand(4))   # same box in every frame
    assert (pasted == pasted[:, :1]).all()                     # and every channel
    area = per_frame[0].item()
    assert 0 < area < 1
    assert t[0, 1].item() == pytest.approx(area, abs=1e-6)


def test_no_mixup_gives_smoothed_one_hot():
    mix = ClipMixup(4, 0.0, 0.0, 1.0, 0.5, 0.1)
    _, t = mix(torch.zeros(3, 3, 2, 4, 4), torch.tensor([0, 3, 1]))
    assert t[1, 3].item() == pytest.approx(0.9 + 0.025) and t[1, 0].item() == pytest.approx(0.025)


def test_multiview_softmax_average():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    expected = torch.softmax(logits, 1).mean(0)
    assert torch.allclose(average_views(logits), expected)


def test_predict_averages_views_per_video():
    bank = planted_bank(n_per_class=1, classes=2, frames=8, size=16)
    seen = []

    def forward(x):
        seen.append(len(x))
        return torch.arange(len(x), dtype=torch.float32)[:, None] * torch.tensor([[1.0, -1.0]])

    probs, tp = predict(forward, bank, clip_len=4, stride=2, size=16, num_clips=2, num_crops=3, batch_size=8)
    assert seen == [6, 6] and probs.shape == (2, 2) and tp > 0
    v = torch.arange(6, dtype=torch.float32)[:, None] * torch.tensor([[1.0, -1.0]])
    assert np.allclose(probs[0], torch.softmax(v, 1).mean(0).numpy(), atol=1e-6)


def test_fewshot_draws_deterministic_and_balanced():
    labels = np.repeat(np.arange(5), 7)
    a = draw_shots(labels, 2, 5, seed=3, draw=0)
    assert np.array_equal(a, draw_shots(labels, 2, 5, seed=3, draw=0))
    assert not np.array_equal(a, draw_shots(labels, 2, 5, seed=3, draw=1))
    assert np.bincount(labels[a], minlength=5).tolist() == [2] * 5
    assert len(set(a.tolist())) == 10
    with pytest.raises(ValueError, match="fewer than k"):
        draw_shots(labels, 8, 5, seed=0, draw=0)


def _scales(model, num_layers, decay=0.75):
    groups = param_groups_llrd(model, weight_decay=0.05, layer_decay=decay, num_layers=num_layers)
    assert sum(len(g["params"]) for g in groups) == len([p for p in model.parameters() if p.requires_grad])
    return {n: g["lr_scale"] for g in groups for n in g["param_names"]}, groups


@pytest.mark.parametrize("name", ["vit_micro", "swin3d_tiny"])
def test_lr_scales_of_every_encoder_kind_the_evaluation_builds(name):
    """Every encoder kind (ViT: layer-wise decay; Video Swin: none): scales in (0, 1], the head at
    1.0, and never larger for a shallower layer (a Swin stage's block j once got 0.75 ** -j)."""
    from motionmvm import models
    from motionmvm.eval.encoder import embed_dim, head_kind, num_layers

    enc = models.build(name, num_frames=4, img_size=32)
    model = VideoClassifier(enc, embed_dim(enc), 5, 0.0, head=head_kind(name))
    depth = num_layers(enc)
    scale, groups = _scales(model, depth)
    assert max(scale.values()) == 1.0 and min(scale.values()) > 0
    assert all(s == 1.0 for n, s in scale.items() if not n.startswith("encoder."))
    by_layer = sorted((g["layer_id"], g["lr_scale"]) for g in groups)
    assert all(a[1] <= b[1] for a, b in zip(by_layer, by_layer[1:])), by_layer
    if name.startswith("swin"):
        assert depth == 0 and set(scale.values()) == {1.0}
    else:
        assert depth == len(enc.blocks) > 1
        assert scale["encoder.blocks.0.norm1.weight"] == pytest.approx(0.75 ** depth)
        assert min(scale.values()) == pytest.approx(0.75 ** (depth + 1))   # embeddings


def test_swin_stage_blocks_are_not_read_as_vit_blocks():
    from motionmvm.eval.recipe import layer_id

    assert layer_id("encoder.layers.3.blocks.1.mlp.fc1.weight", 12) == 13
    assert layer_id("encoder.blocks.1.mlp.fc1.weight", 12) == 2


def test_mar_model_decays_only_the_encoder_blocks():
    """MAR fine-tunes encoder + bridge + reconstruction decoder. As VideoMAE's get_num_layer_for_vit
    (only names starting with `blocks` are layers), the decoder's own `decoder.blocks.<i>` sit at
    the top (scale 1.0); matching them as encoder depth gave the decoder decayed rates."""
    from motionmvm.eval.mar import MARModel
    from eval_doubles import MeanBridge

    torch.manual_seed(0)
    decoder = torch.nn.Module()
    decoder.blocks = torch.nn.ModuleList(torch.nn.Linear(16, 16) for _ in range(2))
    model = MARModel(TinyEncoder(depth=3), MeanBridge(16, 5), decoder)
    scale, groups = _scales(model, 3)
    assert scale["decoder.blocks.0.weight"] == 1.0 and scale["bridge.fc.weight"] == 1.0
    assert scale["encoder.blocks.0.1.weight"] == pytest.approx(0.75 ** 3)
    assert max(scale.values()) == 1.0
    by_layer = sorted((g["layer_id"], g["lr_scale"]) for g in groups)
    assert all(a[1] <= b[1] for a, b in zip(by_layer, by_layer[1:]))

"""Every registered model runs forward and backward with the documented shapes; Swin inflation is exact."""
from __future__ import annotations

import pytest
import torch

from motionmvm import models
from motionmvm.models.heads import demvm_loss

torch.set_num_threads(1)

# Full-width configs with fewer blocks where the registered depth would dominate the test time
# (widths, heads and windows stay those registered).
CHEAP = {"swin3d_t": {"depths": (1, 1, 1, 1)}, "swin3d_b": {"depths": (1, 1, 1, 1)}}
# ViT encoders and the VideoMAE decoder come from the pretrain area (vit.py, videomae_decoder.py);
# they are exercised here through the documented interface when present.
PREFIX_CHEAP = {"mar_bridging_classifier": {"embed_dim": 64, "dim": 32, "depth": 1, "num_heads": 2,
                                            "num_classes": 5},
                "vit_": {"img_size": 32, "num_frames": 4, "patch": 16, "depth": 1},
                "videomae_decoder": {"grid": (2, 2, 2), "depth": 1}}


def _overrides(name):
    for prefix, kw in PREFIX_CHEAP.items():
        if name.startswith(prefix):
            return kw
    return CHEAP.get(name, {})


def _same_count_mask(batch, length, n_mask):
    mask = torch.zeros(batch, length, dtype=torch.bool)
    for b in range(batch):
        mask[b, torch.randperm(length)[:n_mask]] = True
    return mask


def _swin(model):
    x = torch.randn(2, 3, 4, 32, 32)
    mask = torch.rand(2, 2, 4, 4) < 0.5  # the token-target grid T/2 x H/8 x W/8
    feats = model(x, mask)
    d = model.cfg.embed_dim
    for i, f in enumerate(feats):
        assert f.shape == (2, d * 2 ** i, 2, 8 // 2 ** i, 8 // 2 ** i)
    assert model.forward_features(x).shape == (2, 8 * d)
    return sum(f.float().pow(2).mean() for f in feats)


def _demvm(model):
    c = model.cfg
    feats = [None, torch.randn(2, c.f2_dim, 2, 8, 8), torch.randn(2, c.f3_dim, 2, 4, 4),
             torch.randn(2, c.f4_dim, 2, 2, 2)]
    logits = model(feats)
    assert logits.shape == (2, c.n_codes, 2, 8, 8)
    tokens = torch.randint(0, c.n_codes, (2, 2, 8, 8))
    return demvm_loss(logits, tokens, torch.rand(2, 2, 8, 8) < 0.5)


def _i3d(model):
    out = model(torch.randn(2, model.cfg.in_dim, 2, 2, 2))
    assert out.shape == (2, model.cfg.num_classes)
    return out.pow(2).mean()


def _masked_decoder(model):
    grid, n_mask = (2, 4, 4), 24
    mask = torch.zeros(2, 32, dtype=torch.bool)
    for b in range(2):
        mask[b, torch.randperm(32)[:n_mask]] = True
    out = model(torch.randn(2, 32 - n_mask, model.cfg.encoder_dim), mask, grid)
    assert out.shape == (2, n_mask, model.cfg.out_dim)
    return out.pow(2).mean()


def _bridge(model):
    out = model(torch.randn(2, 10, model.cfg.encoder_dim))
    assert out.shape == (2, model.cfg.num_classes)
    return out.pow(2).mean()


def _vit(model):
    c = model.cfg
    T, H, W = c.grid
    L = T * H * W
    x = torch.randn(2, c.in_chans, c.num_frames, c.img_size, c.img_size)
    out = model(x, _same_count_mask(2, L, L // 2))
    assert out.shape == (2, L - L // 2, c.embed_dim)
    assert model.forward_features(x).shape == (2, c.embed_dim)
    return out.pow(2).mean()


def _videomae_decoder(model):
    c = model.cfg
    L = c.grid[0] * c.grid[1] * c.grid[2]
    out = model(torch.randn(2, L - 6, c.encoder_dim), _same_count_mask(2, L, 6))
    assert out.shape == (2, 6, c.out_dim)
    return out.pow(2).mean()


def _tokenizer(model):
    model.train()
    x = torch.rand(2, 3, 4, 16, 16) - 0.5
    out = model(x)
    assert out["recon"].shape == x.shape
    ids = model.encode(x)
    assert ids.shape == (2, *model.token_grid(4, 16, 16)) and ids.dtype == torch.long
    assert ids.min() >= 0 and ids.max() < model.cfg.n_codes
    assert model.decode(ids).shape[:2] == (2, 3)
    return out["loss"]


FAMILIES = {"swin3d": _swin, "demvm_decoder": _demvm, "i3d_head": _i3d, "mme_head": _masked_decoder,
            "mar_decoder": _masked_decoder, "mar_bridg": _bridge, "vqvae3d": _tokenizer,
            "vq2d": _tokenizer, "vit_": _vit, "videomae_decoder": _videomae_decoder}


def _runner(name):
    for prefix, fn in FAMILIES.items():
        if name.startswith(prefix):
            return fn
    return None


def test_registry_contents_and_errors():
    names = models.names()
    for required in ("swin3d_t", "swin3d_b", "swin3d_tiny", "demvm_decoder", "i3d_head", "mme_head",
                     "mar_decoder", "mar_bridge", "vqvae3d", "vq2d"):
        assert required in names
    with pytest.raises(KeyError, match="unknown model"):
        models.build("no_such_model")
    with pytest.raises(TypeError, match="no field"):
        models.build("swin3d_tiny", no_such_field=1)
    with pytest.raises(ValueError, match="already registered"):
        models.register_model("swin3d_tiny")(lambda **kw: None)


@pytest.mark.parametrize("name", models.names())
def test_every_model_forward_backward(name):
    torch.manual_seed(0)
    model = models.build(name, **_overrides(name))
    run = _runner(name)
    if run is None:
        assert hasattr(model, "example_inputs"), \
            f"{name}: every registered model needs a runner in this test or an example_inputs() method"
        out = model(*model.example_inputs())
        loss = sum(o.float().pow(2).mean() for o in (out if isinstance(out, (list, tuple)) else [out]))
    else:
        loss = run(model)
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), f"{name}: no gradient reached"


def test_swin_mask_replaces_masked_patches_only():
    torch.manual_seed(0)
    model = models.build("swin3d_tiny").eval()
    x = torch.randn(1, 3, 4, 32, 32)
    mask = torch.zeros(1, 2, 8, 8, dtype=torch.bool)  # patch grid
    assert torch.equal(model(x, mask)[0], model(x)[0])
    mask[0, 0, 0, 0] = True
    x2 = x.clone()
    x2[:, :, 0:2, 0:4, 0:4] = 100.0  # change the masked patch only: output must not change
    assert torch.allclose(model(x, mask)[-1], model(x2, mask)[-1], atol=1e-5)
    assert not torch.allclose(model(x)[-1], model(x2)[-1], atol=1e-3)
    with pytest.raises(ValueError, match="does not divide|matches neither"):
        model(x, torch.zeros(1, 7, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        model(x, torch.zeros(1, 2, 8, 8))


def test_swin_inflation_from_timm_file(tmp_path):
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    kw = dict(embed_dim=24, depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 4), window_size=4)
    net2d = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=128, **kw).eval()
    path = tmp_path / "swin2d.pt"
    torch.save(net2d.state_dict(), path)

    from motionmvm.models.swin3d import load_inflated
    net3d = models.build("swin3d_tiny", embed_dim=24, depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 4),
                         window_size=(2, 4, 4)).eval()
    report = load_inflated(net3d, path)
    assert report["missing_keys"] == ["mask_token"]
    assert report["unexpected_keys"] == ["head.fc.bias", "head.fc.weight"]
    table = net3d.layers[0].blocks[0].attn.relative_position_bias_table
    assert table.shape == (3 * 7 * 7, 1)

    # A static clip through the inflated 3D model equals the 2D model on the frame, at every stage
    # (shifted windows over time included: T' = 2 = the temporal window).
    img = torch.randn(1, 3, 128, 128)
    clip = img[:, :, None].repeat(1, 1, 4, 1, 1)
    with torch.no_grad():
        f3d = net3d(clip)
        f2d = net2d.forward_intermediates(img, intermediates_only=True, norm=True)
    for a, b in zip(f3d, f2d):
        for t in range(a.shape[2]):
            torch.testing.assert_close(a[:, :, t], b, atol=1e-4, rtol=1e-4)

    center = models.build("swin3d_tiny", embed_dim=24, depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 4))
    load_inflated(center, path, time_init="center")
    w = center.patch_embed.proj.weight
    torch.testing.assert_close(w[:, :, 1], net2d.patch_embed.proj.weight)
    assert w[:, :, 0].abs().sum() == 0

    wrong = models.build("swin3d_tiny", embed_dim=32)  # different widths: a clear error, not silent garbage
    with pytest.raises(ValueError, match="cannot inflate"):
        load_inflated(wrong, path)


def test_swin_mask_grids_are_mapped_to_the_patch_grid():
    model = models.build("swin3d_tiny")
    grid = (2, 8, 8)
    coarse = torch.zeros(1, 2, 4, 4, dtype=torch.bool)
    coarse[0, 1, 0, 0] = True
    m = model._expand_mask(coarse, grid)
    assert m.shape == (1, 2, 8, 8) and m.sum() == 4 and m[0, 1, :2, :2].all()
    fine = torch.zeros(1, 4, 8, 8, dtype=torch.bool)  # per frame (FGDM): T = 2 T'
    fine[0, 3, 5, 6] = True  # frame 3 belongs to tubelet 1
    m = model._expand_mask(fine, grid)
    assert m.sum() == 1 and m[0, 1, 5, 6]
    with pytest.raises(ValueError, match="does not divide or refine"):
        model._expand_mask(torch.zeros(1, 3, 8, 8, dtype=torch.bool), grid)


def test_demvm_pieces_compose():
    """Swin F2 grid == 3D tokenizer token map of the 2x downsampled clip == decoder logits grid."""
    torch.manual_seed(0)
    enc, dec = models.build("swin3d_tiny"), models.build("demvm_decoder_tiny")
    tok = models.build("vqvae3d_tiny", n_codes=dec.cfg.n_codes).eval()
    clip = torch.rand(2, 3, 16, 64, 64) - 0.5
    tokens = tok.encode(torch.nn.functional.avg_pool3d(clip, (1, 2, 2)))  # [2, 8, 8, 8]
    mask = torch.rand(2, 16, 64 // 8, 64 // 8) < 0.6  # per frame, token-grid resolution
    logits = dec(enc(clip, mask))
    assert logits.shape[2:] == tokens.shape[1:] == (8, 8, 8)
    patch_mask = enc._expand_mask(mask, enc.patch_grid(clip.shape))
    target_mask = patch_mask[:, :, ::2, ::2]  # back on the token grid (time any-pooled to T/2)
    loss = demvm_loss(logits, tokens, target_mask)
    loss.backward()
    assert torch.isfinite(loss) and enc.mask_token.grad is not None


def test_mar_decoder_initializes_from_videomae_decoder():
    """MAR's reconstruction decoder starts from the pretrained VideoMAE decoder (paper 003)."""
    src = models.build("videomae_decoder", encoder_dim=64, embed_dim=48, num_heads=2, depth=1,
                       grid=(2, 4, 4))
    dst = models.build("mar_decoder_tiny")
    dst.load_state_dict(src.state_dict())  # strict: same names and shapes
    torch.testing.assert_close(dst.head.weight, src.head.weight)


def test_bridging_classifier_under_eval_argument_names():
    """The evaluation area builds it as build("mar_bridging_classifier", embed_dim, num_classes, dim, ...)."""
    bridge = models.build("mar_bridging_classifier", embed_dim=48, num_classes=7, dim=32, depth=1, num_heads=4)
    assert (bridge.cfg.encoder_dim, bridge.cfg.width, bridge.cfg.num_heads) == (48, 32, 4)
    assert bridge(torch.randn(3, 5, 48)).shape == (3, 7)
    default = models.build("mar_bridging_classifier", embed_dim=768, num_classes=10)
    assert (default.cfg.width, default.cfg.depth, default.cfg.num_heads) == (512, 2, 4)  # paper 003


def test_bridging_classifier_averages_then_normalises():
    """Official TransformerBridgingClsHead: logits = fc(dropout(LayerNorm(mean_n(blocks(x)))));
    normalising each token before the mean gives other logits. Paper Table I dropout 0.1."""
    torch.manual_seed(0)
    bridge = models.build("mar_bridging_classifier", embed_dim=48, num_classes=7, dim=32, depth=1,
                          num_heads=4).eval()
    assert bridge.cfg.dropout == 0.1 and bridge.norm.eps == 1e-6 and bridge.embed.bias is None
    with torch.no_grad():
        bridge.norm.weight.uniform_(0.5, 1.5)
        bridge.norm.bias.uniform_(-0.5, 0.5)
        x = torch.randn(3, 9, 48) * 3 + torch.randn(3, 1, 48)
        h = bridge.embed(x)
        for blk in bridge.blocks:
            h = blk(h)
        expect = bridge.fc(bridge.norm(h.mean(dim=1)))
        per_token_first = bridge.fc(bridge.norm(h).mean(dim=1))
        got = bridge(x)
    torch.testing.assert_close(got, expect)
    assert (got - per_token_first).abs().max() > 1e-2


def test_swin_exposes_feature_width_and_input_size():
    enc = models.build("swin3d_t", depths=(1, 1, 1, 1), num_frames=8, img_size=64)
    assert enc.embed_dim == enc.num_features == 768  # forward_features width (8C), not C
    assert (enc.cfg.num_frames, enc.cfg.img_size) == (8, 64)
    head = models.build("i3d_head", in_dim=enc.embed_dim, num_classes=3)
    assert head(enc(torch.randn(1, 3, 8, 64, 64))[-1]).shape == (1, 3)


def test_swin_trains_after_an_inference_mode_pass():
    """Cached window masks / indices made under inference mode must not break a later backward."""
    model = models.build("swin3d_tiny", window_size=(2, 3, 3))  # odd window: clamped + padded paths
    x = torch.randn(1, 3, 4, 40, 40)
    with torch.inference_mode():
        model(x)
    model(x)[-1].sum().backward()
    assert model.patch_embed.proj.weight.grad is not None

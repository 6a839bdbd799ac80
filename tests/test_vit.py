"""Video ViT encoder and VideoMAE decoder: every registered size runs forward/backward with the
documented shapes; positions are fixed sin-cos; only visible tokens enter the encoder."""
import pytest
import torch

from motionmvm import models
from motionmvm.models.vit import VIT_SIZES, gather_visible, sincos_pos_embed_3d

torch.set_num_threads(1)


def small_clip(batch=2, frames=4, size=32):
    return torch.randn(batch, 3, frames, size, size)


@pytest.mark.parametrize("name", sorted(VIT_SIZES))
def test_every_vit_forward_backward_shapes(name):
    # Real width/depth/heads of each size, on a tiny clip (4 x 32 x 32, patch 16 -> 2x2x2 tokens);
    # vit_l/vit_b run with fewer blocks to stay fast, which does not change the shape logic.
    depth = 1 if name in ("vit_l", "vit_b", "vit_s", "vit_tiny") else None
    kw = dict(img_size=32, num_frames=4, patch=16, drop_path=0.1)
    if depth:
        kw["depth"] = depth
    enc = models.build(name, **kw)
    d = VIT_SIZES[name]["embed_dim"]
    assert enc.embed_dim == d and enc.cfg.grid == (2, 2, 2)
    x = small_clip()
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[0, [0, 3, 5]] = True
    mask[1, [1, 2, 7]] = True
    out = enc(x, mask)
    assert out.shape == (2, 5, d)
    assert enc(x).shape == (2, 8, d)
    assert enc.forward_features(x).shape == (2, d)
    out.sum().backward()
    assert enc.patch_embed.weight.grad is not None and torch.isfinite(enc.patch_embed.weight.grad).all()


def test_registry_lists_every_vit_and_the_decoder():
    assert {"vit_micro", "vit_tiny", "vit_s", "vit_b", "vit_l", "videomae_decoder"} <= set(models.names())


def test_vit_b_paper_config_has_1568_tokens_and_86m_parameters():
    enc = models.build("vit_b")
    assert enc.cfg.grid == (8, 14, 14) and enc.cfg.num_tokens == 1568
    n = sum(p.numel() for p in enc.parameters())
    assert 85e6 < n < 88e6, n  # ViT-B/16 with a 2x16x16 tubelet: ~86.2M


def test_visible_tokens_only_masked_content_cannot_leak():
    torch.manual_seed(0)
    enc = models.build("vit_micro", img_size=32, num_frames=4, patch=16).eval()
    x = small_clip(batch=1)
    mask = torch.zeros(1, 8, dtype=torch.bool)
    mask[0, 4:] = True  # tokens of the second time slice are hidden
    y = x.clone()
    y[:, :, 2:] = torch.randn_like(y[:, :, 2:])  # change only the hidden frames
    assert torch.allclose(enc(x, mask), enc(y, mask), atol=1e-6)
    assert not torch.allclose(enc(x), enc(y), atol=1e-3)


def test_sincos_positions_are_fixed_distinct_and_bounded():
    pe = sincos_pos_embed_3d(48, (2, 3, 4))
    assert pe.shape == (24, 48)
    assert pe.abs().max() <= 1
    assert torch.unique(pe, dim=0).shape[0] == 24
    enc = models.build("vit_micro", img_size=32, num_frames=4, patch=16)
    assert "pos_embed" not in dict(enc.named_parameters())
    assert sincos_pos_embed_3d(1024, (2, 2, 2)).shape == (8, 1024)  # ViT-L width is not a multiple of 6


def test_uneven_visible_counts_and_bad_shapes_are_refused():
    x = torch.randn(2, 4, 5)
    mask = torch.tensor([[True, False, False, False], [True, True, False, False]])
    with pytest.raises(ValueError, match="visible token counts differ"):
        gather_visible(x, mask)
    enc = models.build("vit_micro", img_size=32, num_frames=4, patch=16)
    with pytest.raises(ValueError, match="expected a clip"):
        enc(torch.randn(1, 3, 4, 48, 48))
    with pytest.raises(ValueError, match="not divisible"):
        models.build("vit_micro", img_size=30, num_frames=4, patch=16)
    with pytest.raises(TypeError, match="no field"):
        models.build("vit_micro", bogus=1)


def test_decoder_returns_masked_positions_in_token_order():
    torch.manual_seed(0)
    dec = models.build("videomae_decoder", encoder_dim=48, grid=(2, 2, 2), out_dim=7, embed_dim=24,
                       depth=1, num_heads=2)
    mask = torch.tensor([[True, False, True, False, False, True, False, False]] * 2)
    out = dec(torch.randn(2, 5, 48), mask)
    assert out.shape == (2, 3, 7)
    out.sum().backward()
    assert dec.mask_token.grad is not None and dec.mask_token.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="decoder grid"):
        dec(torch.randn(2, 5, 48), torch.zeros(2, 9, dtype=torch.bool))

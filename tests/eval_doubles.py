"""Test doubles for the evaluation tests ONLY: a tiny token encoder with the documented encoder
interface and in-memory clip banks. Production code never imports this module."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from motionmvm.data.clips import ClipBank


class TinyEncoder(nn.Module):
    """forward(x [B,3,T,H,W], mask [B,L] | None) -> [B, L_vis, D]; forward_features -> [B, D]."""

    def __init__(self, frames=4, size=16, patch=8, tubelet=2, dim=16, depth=2):
        super().__init__()
        self.cfg = SimpleNamespace(num_frames=frames, img_size=size, patch=patch, tubelet=tubelet, embed_dim=dim,
                                   grid=(frames // tubelet, size // patch, size // patch))
        self.embed_dim = dim
        self.patch_embed = nn.Conv3d(3, dim, (tubelet, patch, patch), stride=(tubelet, patch, patch))
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU())
                                    for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, mask=None):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        if mask is not None:
            x = x[~mask].reshape(x.shape[0], -1, x.shape[-1])
        for blk in self.blocks:
            x = x + blk(x)
        return self.norm(x)

    def forward_features(self, x):
        return self(x).mean(1)


def build_tiny_encoder(ckpt, *, pretrained, seed, **overrides) -> TinyEncoder:
    """Stand-in for `motionmvm.eval.encoder.build_encoder` (monkeypatched): a 4 x 16 x 16
    TinyEncoder, seeded, with the checkpoint's weights when `pretrained`."""
    torch.manual_seed(seed)
    e = TinyEncoder(frames=4, size=16)
    if pretrained:
        e.load_state_dict(ckpt["state_dict"])
    return e


class MeanBridge(nn.Module):
    """Stand-in bridging classifier: mean over visible tokens, linear."""

    def __init__(self, dim, num_classes):
        super().__init__()
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x):
        return self.fc(x.mean(1))


def planted_bank(n_per_class=12, classes=3, frames=8, size=16, seed=0, split="train") -> ClipBank:
    """Clips whose class is written into the colour: class c brightens channel c (plus noise)."""
    rng = np.random.default_rng(seed)
    ids, labels, clips = [], [], []
    for c in range(classes):
        for i in range(n_per_class):
            fr = rng.integers(0, 120, size=(frames, size, size, 3)).astype(np.uint8)
            fr[..., c % 3] += 120
            ids.append(f"{split}_c{c}_{i:03d}")
            labels.append(c)
            clips.append(fr)
    return ClipBank("mem", split, ids, np.array(labels), clips, [f"class{c}" for c in range(classes)])


def fake_dataset_dir(tmp_path, name="ds"):
    """A directory with the manifest.json that provenance.record reads."""
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "manifest.json").write_text('{"hash": "test-hash"}')
    return d


class TinyDecoder(nn.Module):
    """Stand-in reconstruction decoder: forward(x_vis [B, L_vis, D], mask [B, L]) -> [B, L_mask, out]."""

    def __init__(self, encoder_dim, grid, out_dim, **_):
        super().__init__()
        n = int(np.prod(grid))
        self.fc = nn.Linear(encoder_dim, out_dim)
        self.pos = nn.Parameter(torch.zeros(n, out_dim))

    def forward(self, x_vis, mask):
        b = x_vis.shape[0]
        n_mask = int(mask[0].sum())
        return self.fc(x_vis.mean(1, keepdim=True)) + self.pos[None].expand(b, -1, -1)[mask].reshape(b, n_mask, -1)


def fake_models_module():
    """A `motionmvm.models` stand-in whose build() makes the doubles above (tests only)."""
    import types

    mod = types.ModuleType("motionmvm.models")

    def build(name, **kw):
        if name == "mar_bridging_classifier":
            return MeanBridge(kw["embed_dim"], kw["num_classes"])
        if name == "videomae_decoder":
            return TinyDecoder(**kw)
        raise KeyError(name)

    mod.build = build
    return mod

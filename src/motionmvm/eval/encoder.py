"""Loading the encoder under evaluation and wrapping it in a classifier.

encoder.pt (written by pretraining, and by `finetune --method scratch`) is a dict
`{"model": <registry name>, "config": {<config overrides>}, "state_dict": {...}, "input": {frames,
size, patch: [t, h, w], grid: [T', H', W']}, "method": ...}`; the encoder is rebuilt with
`motionmvm.models.build(model, **config)` at the clip geometry of `input` (`input_geometry`), which
every method writes (a Video Swin's config alone does not say which clips it was trained on).
Checkpoints without `input` fall back to the config's num_frames / img_size.
Reference rows: `random_init`, `scratch` and `scratch_1frame` rebuild the same architecture with
fresh, seeded weights (the checkpoint is read for its architecture only). `scratch_1frame` is the
single-frame control: supervised from scratch like `scratch`, but every clip it sees (training,
test, frozen features) is its middle frame repeated, so it can use appearance and never motion.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

REFERENCE_METHODS = ("random_init", "scratch", "scratch_1frame")
SUPERVISED = ("scratch", "scratch_1frame")  # references trained by `finetune` from fresh weights
SINGLE_FRAME = "scratch_1frame"
I3D_HEAD = "i3d_head"  # models-area registry name of the Video Swin head


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no encoder checkpoint at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    missing = {"model", "config", "state_dict"} - set(ckpt if isinstance(ckpt, dict) else {})
    if missing:
        raise ValueError(f"{path}: an encoder checkpoint needs keys model, config, state_dict; lacks {sorted(missing)}")
    return ckpt


def input_geometry(encoder: nn.Module) -> dict:
    """The clip geometry an encoder takes, as stored in encoder.pt under "input":
    {frames, size, patch: [tubelet, p, p], grid: [T', H', W'] patch grid}. ViT configs name
    tubelet / patch, Video Swin configs patch_size (t, h, w)."""
    frames, size = input_shape(encoder)
    cfg = encoder.cfg
    if hasattr(cfg, "patch_size"):
        patch = [int(v) for v in cfg.patch_size]
    elif hasattr(cfg, "tubelet") and hasattr(cfg, "patch"):
        patch = [int(cfg.tubelet), int(cfg.patch), int(cfg.patch)]
    else:
        raise ValueError(f"{type(encoder).__name__}.cfg names neither patch_size nor tubelet/patch")
    if frames % patch[0] or size % patch[1] or size % patch[2]:
        raise ValueError(f"clip {frames} x {size} x {size} is not divisible by the patch {patch}")
    return {"frames": frames, "size": size, "patch": patch,
            "grid": [frames // patch[0], size // patch[1], size // patch[2]]}


def _geometry_overrides(ckpt: dict) -> dict:
    """num_frames / img_size from the checkpoint's stored input geometry (when it has one)."""
    geo = ckpt.get("input")
    if geo is None:
        return {}
    missing = {"frames", "size"} - set(geo)
    if missing:
        raise ValueError(f"encoder checkpoint 'input' lacks {sorted(missing)}: {geo}")
    return {"num_frames": int(geo["frames"]), "img_size": int(geo["size"])}


def build_encoder(ckpt: dict, *, pretrained: bool, seed: int, **overrides) -> nn.Module:
    """The encoder of `ckpt` at its stored input geometry, with its weights (pretrained) or freshly
    initialised from `seed`."""
    from motionmvm import models

    torch.manual_seed(seed)
    enc = models.build(ckpt["model"], **{**ckpt["config"], **_geometry_overrides(ckpt), **overrides})
    if pretrained:
        enc.load_state_dict(ckpt["state_dict"])
    if ckpt.get("input") is not None:
        got = input_geometry(enc)
        want = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in ckpt["input"].items()}
        if any(got.get(k) != v for k, v in want.items()):
            raise ValueError(f"rebuilt {ckpt['model']} takes {got}, the checkpoint says {want}")
    return enc


def drop_path_override(ckpt: dict, rate: float) -> dict:
    """The config field that sets stochastic depth for this encoder (ViT: drop_path, Video Swin:
    drop_path_rate); {} when it has neither."""
    for key in ("drop_path", "drop_path_rate"):
        if key in ckpt["config"]:
            return {key: rate}
    return {}


def save_encoder(path: str | Path, ckpt_like: dict, encoder: nn.Module) -> None:
    """Write an encoder checkpoint in the format above (atomically)."""
    from motionmvm.io import atomic_torch_save

    config = {k: v for k, v in ckpt_like["config"].items()}
    atomic_torch_save({"model": ckpt_like["model"], "config": config, "input": input_geometry(encoder),
                       "method": ckpt_like.get("method"),
                       "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}}, path)


def input_shape(encoder: nn.Module) -> tuple[int, int]:
    """(frames, size) of the clips the encoder takes, from its config dataclass."""
    cfg = getattr(encoder, "cfg", None)
    if cfg is None or not hasattr(cfg, "num_frames") or not hasattr(cfg, "img_size"):
        raise ValueError(f"{type(encoder).__name__} has no cfg.num_frames / cfg.img_size: cannot tell its input size")
    return int(cfg.num_frames), int(cfg.img_size)


def num_layers(encoder: nn.Module) -> int:
    """Depth for layer-wise lr decay: a ViT's number of `blocks`; 0 (decay off) for Video Swin,
    whose official fine-tuning uses no layer-wise decay (its stages hold `layers.<s>.blocks.<j>`,
    not a flat `blocks` list)."""
    blocks = getattr(encoder, "blocks", None)
    return len(blocks) if isinstance(blocks, nn.ModuleList) else 0


class VideoClassifier(nn.Module):
    """encoder.forward_features (mean-pooled [B, D]) -> fc_norm -> dropout -> linear head -> logits [B, K].

    ViT: as VideoMAE's fine-tuning model, a LayerNorm on the mean-pooled tokens (`fc_norm`): the
    mean of many normalised tokens is small and varies little between clips. Linear head
    initialised small (VideoMAE's init_scale 0.001) so the pretrained features are not disturbed
    early. Video Swin: the models area's I3D head (`head="i3d"`).
    """

    def __init__(self, encoder: nn.Module, embed_dim: int, num_classes: int, head_dropout: float,
                 head: str = "linear", head_init_std: float = 2e-5):
        super().__init__()
        self.encoder = encoder
        self.fc_norm = nn.Identity()
        if head == "i3d":
            from motionmvm import models

            self.head = models.build(I3D_HEAD, in_dim=embed_dim, num_classes=num_classes)
            self.dropout = nn.Identity()
        elif head == "linear":
            self.fc_norm = nn.LayerNorm(embed_dim)
            self.dropout = nn.Dropout(head_dropout)
            self.head = nn.Linear(embed_dim, num_classes)
            # VideoMAE: trunc_normal(0.02) x init_scale 0.001 = 2e-5 (params eval.finetune.head_init_std)
            nn.init.trunc_normal_(self.head.weight, std=head_init_std)
            nn.init.zeros_(self.head.bias)
        else:
            raise ValueError(f"head must be 'linear' or 'i3d', got {head!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, T, H, W] -> logits [B, K]."""
        return self.head(self.dropout(self.fc_norm(self.encoder.forward_features(x))))


def head_kind(model_name: str) -> str:
    return "i3d" if "swin" in model_name else "linear"


def embed_dim(encoder: nn.Module) -> int:
    d = getattr(encoder, "embed_dim", None) or getattr(getattr(encoder, "cfg", None), "embed_dim", None)
    if d is None:
        raise ValueError(f"{type(encoder).__name__} exposes no embed_dim")
    return int(d)


def single_frame(x: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] -> the middle frame repeated T times (no motion left, same shape)."""
    t = x.shape[2]
    return x[:, :, t // 2:t // 2 + 1].expand_as(x).contiguous()


def make_single_frame(model: nn.Module) -> nn.Module:
    """Feed `model` (a classifier, called as model(x)) single-frame clips in training and test."""
    model.register_forward_pre_hook(lambda _mod, args: (single_frame(args[0]), *args[1:]))
    return model


class SingleFrameFeatures(nn.Module):
    """A frozen encoder whose forward_features sees single-frame clips (feature extraction)."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.cfg = encoder.cfg  # input_shape reads the clip geometry from it

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.forward_features(single_frame(x))

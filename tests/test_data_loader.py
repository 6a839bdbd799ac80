"""The clip path (motionmvm.data.clips) behind a DataLoader: 2 workers, seeded, the same clips as in-process."""
import numpy as np
import torch
from torch.utils.data import DataLoader

from motionmvm import config, methods
from motionmvm.data import build_manifest, clips, synth
from motionmvm.train.order import StepOrder
from motionmvm.train.samples import MaskedClips, collate


def _dataset(tmp_path):
    cfg = config.load("params.yaml", "smoke")["data"]
    cfg["synth"] = dict(cfg["synth"], num_classes=2, train_per_class=2, test_per_class=1)
    out = tmp_path / "synth"
    synth.generate("synth", cfg, out)
    build_manifest.build(out, "a", min_frames=16, max_fraction=0.0)
    return out


def test_pretraining_loader_two_workers_is_reproducible_and_repeats_decode_once(tmp_path):
    torch.set_num_threads(1)
    videos = clips.VideoSet(_dataset(tmp_path), "train")
    spec = methods.get("videomae")

    def run(workers, repeats):
        ds = MaskedClips(videos, spec, grid=(2, 4, 4), num_frames=4, stride=2, size=32, seed=1,
                         repeats=repeats, scales=(1.0, 0.875, 0.75, 0.66))
        order = StepOrder(len(ds), seed=3, batch=4, accum=1, world=1, rank=0, total_steps=2, repeats=repeats)
        return list(DataLoader(ds, batch_sampler=order, num_workers=workers, collate_fn=collate))

    b0, b2 = run(0, 1), run(2, 1)
    assert b0[0]["video"].shape == (4, 4, 32, 32, 3) and b0[0]["mask"].shape == (4, 2, 4, 4)
    assert all(torch.equal(x["video"], y["video"]) and torch.equal(x["mask"], y["mask"]) for x, y in zip(b0, b2))
    # k = 2: a micro-batch of 4 clips holds 2 videos, each twice (different windows or crops)
    r = run(2, 2)
    assert r[0]["video"].shape == (4, 4, 32, 32, 3) and r[0]["video"].dtype == torch.uint8
    idx = r[0]["index"].tolist()
    assert idx[0] == idx[1] and idx[2] == idx[3] and idx[0] != idx[2]
    assert not torch.equal(r[0]["video"][0], r[0]["video"][1])
    # the first of the k clips is the clip k = 1 draws for the same (epoch, video)
    one = MaskedClips(videos, spec, grid=(2, 4, 4), num_frames=4, stride=2, size=32, seed=1,
                      scales=(1.0, 0.875, 0.75, 0.66))[(0, idx[0])]
    assert torch.equal(one["video"], r[0]["video"][0])


def test_clip_path_pieces(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (6, 40, 60, 3), dtype=np.uint8)
    v = clips.ArrayVideos([frames])
    rng = np.random.default_rng(0)
    out = clips.sample_clips(v, 0, num_frames=4, stride=2, size=16, rng=rng, repeats=3,
                             scales=(1.0, 0.875, 0.75, 0.66))
    for o in out:
        x0, y0, w, h = o["box"]
        assert 0 <= x0 and x0 + w <= 60 and 0 <= y0 and y0 + h <= 40 and min(w, h) >= int(40 * 0.66)
        assert o["video"].shape == (4, 16, 16, 3) and o["video"].dtype == torch.uint8
        assert o["frames"].tolist() == sorted(o["frames"].tolist()) and o["frames"].max() <= 5
    # the model's input: (x / 255 - mean) / std, channels first
    ref = (torch.from_numpy(frames).float() / 255 - torch.tensor(clips.IMAGENET_MEAN)) / torch.tensor(clips.IMAGENET_STD)
    x = clips.model_input(torch.from_numpy(frames)[None])
    assert x.shape == (1, 3, 6, 40, 60) and torch.allclose(x[0], ref.permute(3, 0, 1, 2), atol=1e-5)
    assert clips.test_starts(32, 8, 4, 2) == [0, 3] and clips.window(10, 4, 4, 2).tolist() == [2, 6, 9, 9]

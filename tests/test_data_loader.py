"""ClipDataset + DataLoader with 2 workers on a generated smoke dataset."""
import torch

from motionmvm import config
from motionmvm.data import build_manifest, synth
from motionmvm.data.dataset import ClipDataset, make_loader


def test_loader_two_workers_reproducible(tmp_path):
    torch.set_num_threads(1)
    cfg = config.load("params.yaml", "smoke")["data"]
    cfg["synth"] = dict(cfg["synth"], num_classes=2, train_per_class=2, test_per_class=1)
    out = tmp_path / "synth"
    synth.generate("synth", cfg, out)
    build_manifest.build(out, "a", min_frames=16, max_fraction=0.0)
    ds = ClipDataset(out, "train", num_frames=4, stride=2, size=32, train=True, seed=1)
    b1 = [b for b in make_loader(ds, 2, workers=2, seed=3)]
    b2 = [b for b in make_loader(ds, 2, workers=2, seed=3)]
    assert b1[0]["video"].shape == (2, 3, 4, 32, 32)
    assert all(torch.equal(x["video"], y["video"]) and x["clip_id"] == y["clip_id"] for x, y in zip(b1, b2))
    assert sum(len(b["label"]) for b in b1) == 4
    test = ClipDataset(out, "test", num_frames=4, stride=2, size=32, train=False, clips=2, crops=3)
    assert len(test) == 2 * 6
    item = test[5]
    assert item["view"] == 5 and item["frames"][-1] == 15

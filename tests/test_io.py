"""Atomic writes: nothing half-written is ever visible, and checkpoints are byte-reproducible."""
import hashlib

import pytest
import torch

from motionmvm import io


def test_same_tensors_saved_to_two_paths_have_the_same_sha256(tmp_path):
    obj = {"state_dict": {"w": torch.arange(6.0).view(2, 3)}, "config": {"depth": 2}}
    io.atomic_torch_save(obj, tmp_path / "a" / "encoder.pt")
    io.atomic_torch_save(obj, tmp_path / "b" / "other.pt")
    digest = [hashlib.sha256((tmp_path / p).read_bytes()).hexdigest() for p in ("a/encoder.pt", "b/other.pt")]
    assert digest[0] == digest[1]
    back = torch.load(tmp_path / "a" / "encoder.pt", weights_only=True)
    assert torch.equal(back["state_dict"]["w"], obj["state_dict"]["w"])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    io.write_json(target, {"top1": 0.5})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert io.read_json(target) == {"top1": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]

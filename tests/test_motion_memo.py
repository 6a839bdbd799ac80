"""EntryMemo: the pretraining loop's in-memory motion cache entries (clipmotion/cache_io.py)."""
import numpy as np
import pytest

from motionmvm.clipmotion.cache_io import EntryMemo, read_entry


def _write(root, clip_id, seed):
    flow = np.random.default_rng(seed).integers(-500, 500, (3, 8, 8, 2)).astype(np.int16)
    (root / "flow").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "flow" / f"{clip_id}.npz", flow=flow, flow_backward=-flow, scale=np.float32(64))


def test_memo_returns_the_file_and_keeps_it(tmp_path):
    _write(tmp_path, "a", 0)
    memo = EntryMemo(2**20)
    first = memo.read(tmp_path, "flow", "a")
    fresh = read_entry(tmp_path, "flow", "a")
    assert first.keys() == fresh.keys()
    for k in fresh:
        np.testing.assert_array_equal(first[k], fresh[k])
    (tmp_path / "flow" / "a.npz").unlink()  # served from memory now
    assert memo.read(tmp_path, "flow", "a") is first


def test_memo_drops_the_least_recently_used_past_its_cap(tmp_path):
    for i, c in enumerate("abc"):
        _write(tmp_path, c, i)
    one = sum(a.nbytes for a in read_entry(tmp_path, "flow", "a").values())
    memo = EntryMemo(2 * one)
    memo.read(tmp_path, "flow", "a")
    memo.read(tmp_path, "flow", "b")
    memo.read(tmp_path, "flow", "a")  # a is now the most recent
    memo.read(tmp_path, "flow", "c")  # evicts b
    assert memo.bytes <= 2 * one
    (tmp_path / "flow" / "b.npz").unlink()
    memo.read(tmp_path, "flow", "a")
    with pytest.raises(FileNotFoundError):
        memo.read(tmp_path, "flow", "b")


def test_memo_of_zero_bytes_reads_every_time(tmp_path):
    _write(tmp_path, "a", 0)
    memo = EntryMemo(0)
    memo.read(tmp_path, "flow", "a")
    assert memo.bytes == 0
    (tmp_path / "flow" / "a.npz").unlink()
    with pytest.raises(FileNotFoundError):
        memo.read(tmp_path, "flow", "a")

"""EntryMemo: the pretraining loop's in-memory motion arrays (clipmotion/cache_io.py)."""
import numpy as np
import pytest

from motionmvm.clipmotion.cache_io import EntryMemo, read_entry


def _read(memo, root, clip_id):
    return memo.get((str(root), "flow", clip_id), lambda: read_entry(root, "flow", clip_id))


def _write(root, clip_id, seed):
    flow = np.random.default_rng(seed).integers(-500, 500, (3, 8, 8, 2)).astype(np.int16)
    (root / "flow").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "flow" / f"{clip_id}.npz", flow=flow, flow_backward=-flow, scale=np.float32(64))


def test_memo_returns_the_file_and_keeps_it(tmp_path):
    _write(tmp_path, "a", 0)
    memo = EntryMemo(2**20)
    first = _read(memo, tmp_path, "a")
    fresh = read_entry(tmp_path, "flow", "a")
    assert first.keys() == fresh.keys()
    for k in fresh:
        np.testing.assert_array_equal(first[k], fresh[k])
    (tmp_path / "flow" / "a.npz").unlink()  # served from memory now
    assert _read(memo, tmp_path, "a") is first


def test_memo_drops_the_least_recently_used_past_its_cap(tmp_path):
    for i, c in enumerate("abc"):
        _write(tmp_path, c, i)
    one = sum(a.nbytes for a in read_entry(tmp_path, "flow", "a").values())
    memo = EntryMemo(2 * one)
    _read(memo, tmp_path, "a")
    _read(memo, tmp_path, "b")
    _read(memo, tmp_path, "a")  # a is now the most recent
    _read(memo, tmp_path, "c")  # evicts b
    assert memo.bytes <= 2 * one
    (tmp_path / "flow" / "b.npz").unlink()
    _read(memo, tmp_path, "a")
    with pytest.raises(FileNotFoundError):
        _read(memo, tmp_path, "b")


def test_memo_of_zero_bytes_reads_every_time(tmp_path):
    _write(tmp_path, "a", 0)
    memo = EntryMemo(0)
    _read(memo, tmp_path, "a")
    assert memo.bytes == 0
    (tmp_path / "flow" / "a.npz").unlink()
    with pytest.raises(FileNotFoundError):
        _read(memo, tmp_path, "a")


def test_get_loads_a_key_once_and_shares_it_read_only():
    calls = []

    def load():
        calls.append(1)
        return {"flow": np.ones((2, 4, 4, 2), np.float32)}

    memo = EntryMemo(2**20)
    first = memo.get(("window", "clip", (0, 4)), load)
    assert memo.get(("window", "clip", (0, 4)), load) is first and len(calls) == 1
    with pytest.raises(ValueError, match="read-only"):
        first["flow"][0] = 0  # every later caller shares it

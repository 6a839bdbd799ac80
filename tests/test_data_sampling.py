"""Clip sampling indices: sparse (train random / test centred), dense, multi-view."""
import numpy as np
import pytest

from motionmvm.data import sampling


def test_sparse_train_random_within_video_and_seeded():
    a = [sampling.sparse_indices(40, 16, 2, train=True, rng=np.random.default_rng(0)) for _ in range(2)]
    assert np.array_equal(*a)
    starts = {int(sampling.sparse_indices(40, 16, 2, train=True, rng=np.random.default_rng(s))[0]) for s in range(50)}
    assert min(starts) >= 0 and max(starts) <= 40 - 31 and len(starts) > 3
    assert np.all(np.diff(a[0]) == 2)


def test_sparse_test_is_centred_and_dense_is_consecutive():
    idx = sampling.sparse_indices(41, 16, 2, train=False)
    assert idx[0] == (41 - 31) // 2 and idx[-1] == idx[0] + 30
    d = sampling.dense_indices(32, 16, train=False)
    assert np.all(np.diff(d) == 1) and len(d) == 16


def test_multiview_uniform_and_too_short_refused():
    mv = sampling.multiview_indices(64, 16, 2, 5)
    assert mv.shape == (5, 16) and mv[0, 0] == 0 and mv[-1, -1] == 63
    with pytest.raises(ValueError, match="needs 31"):
        sampling.sparse_indices(30, 16, 2, train=False)

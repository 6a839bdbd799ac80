"""`motionmvm show-masks` renders every strategy over a real (tiny) video."""
import json

import numpy as np
import pytest

from motionmvm.cli import main


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    import av

    path = tmp_path_factory.mktemp("vid") / "square.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        for t in range(36):
            img = np.full((64, 64, 3), 40, np.uint8)
            img[20:36, 4 + t:20 + t] = 230                      # a square moving right
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return path


def test_show_masks_with_computed_motion(video, tmp_path):
    out = tmp_path / "out"
    rc = main(["show-masks", str(video), "--out", str(out), "--size", "64", "--compute-motion",
               "--profile", "smoke"])
    assert rc == 0
    assert (out / "masks.png").stat().st_size > 1000 and (out / "masks.gif").stat().st_size > 1000
    info = json.loads((out / "masks.json").read_text())
    from motionmvm import masking
    assert set(info["strategies"]) == set(masking.names()) and not info["skipped"]
    assert info["strategies"]["mgmae"]["motion"] == "flow"
    masks = np.load(out / "masks.npz")
    assert masks["tube"].shape == (8, 4, 4)
    from PIL import Image
    gif = Image.open(out / "masks.gif")
    assert gif.n_frames == 16
    gif.seek(1)
    assert gif.info["duration"] == 250                            # 4 frames per second


def test_show_masks_without_motion_skips_guided_strategies(video, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["show-masks", str(video), "--out", str(out), "--size", "64", "--profile", "smoke",
               "--strategies", "tube", "mgmae", "fgdm"])
    assert rc == 0
    info = json.loads((out / "masks.json").read_text())
    assert list(info["strategies"]) == ["tube"]
    assert set(info["skipped"]) == {"mgmae", "fgdm"}
    assert "skipped mgmae" in capsys.readouterr().err


def test_show_masks_reads_cache_npz(video, tmp_path):
    flow = np.zeros((35, 64, 64, 2), np.int16)
    flow[..., 0] = 2 * 8                                          # 2 px right, scale 8
    np.savez(tmp_path / "flow.npz", flow=flow, scale=np.float32(8))
    out = tmp_path / "out"
    rc = main(["show-masks", str(video), "--out", str(out), "--size", "64", "--profile", "smoke",
               "--strategies", "mgmae", "mgm", "--flow", str(tmp_path / "flow.npz")])
    assert rc == 0
    info = json.loads((out / "masks.json").read_text())
    assert info["strategies"]["mgm"]["motion"] == "flow"
    assert info["motion_source"]["flow"].endswith("flow.npz")


def test_show_masks_unknown_strategy(video, tmp_path):
    assert main(["show-masks", str(video), "--out", str(tmp_path), "--strategies", "magic"]) == 2

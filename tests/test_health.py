"""Health gates (motionmvm.eval.health) on fabricated results trees, and the audit of health.json."""
from __future__ import annotations

import copy

import pytest

from motionmvm import config
from motionmvm.eval.aggregate import aggregate
from motionmvm.io import read_json, write_json
from motionmvm.report.audit_health import check_health
from tests.helpers import results_tree


@pytest.fixture(scope="module")
def cfg():
    c = copy.deepcopy(config.load("params.yaml", "small"))
    c["experiment"]["methods"] = list(results_tree.GATE_METHODS)
    return c


def gates(tmp_path, cfg, **knobs) -> dict:
    runs = tmp_path / "runs"
    results_tree.gate_runs(runs, **knobs)
    aggregate(runs / "eval", tmp_path / "results", cfg=cfg, pretrain_root=runs / "pretrain")
    health = read_json(tmp_path / "results" / "health.json")
    return {g["name"]: g["passed"] for g in health["gates"]} | {"all": health["passed"]}


def test_a_healthy_tree_passes_every_gate_and_table_md_opens_with_them(tmp_path, cfg):
    assert gates(tmp_path, cfg) == {"learnable": True, "sensitive": True, "powered": True,
                                    "pretraining_learns": True, "all": True}
    text = (tmp_path / "results" / "table.md").read_text()
    assert text.startswith("## Health gates: all gates pass")
    assert "| protocol | method |" in text  # the results table follows


@pytest.mark.parametrize("knobs, failing", [
    ({"scratch": 0.55}, "learnable"),                          # scratch under 70% on synth
    ({"single_frame": 0.30}, "learnable"),                     # the control is not at chance
    ({"mimed_gain": 0.0}, "sensitive"),                        # nothing above random_init
    ({"noise": 0.06}, "powered"),                              # paired CIs wider than 3 points
    ({"pixel_loss": 0.97}, "pretraining_learns"),              # pixel loss not well below 1.0
    ({"pixel_loss": 0.5, "trivial": 0.51}, "pretraining_learns"),  # not below its trivial predictor
])
def test_each_gate_fails_on_a_tree_built_to_fail_it(tmp_path, cfg, knobs, failing):
    got = gates(tmp_path, cfg, **knobs)
    assert got[failing] is False and got["all"] is False, got
    text = (tmp_path / "results" / "table.md").read_text()
    assert f"**{failing}: FAIL**" in text and "SOME GATES FAIL" in text


def test_missing_runs_fail_the_gate_instead_of_passing(tmp_path, cfg):
    runs = tmp_path / "runs"
    results_tree.gate_runs(runs)
    for p in (runs / "eval" / "linear_probe" / "scratch_1frame").rglob("metrics.json"):
        p.unlink()
    aggregate(runs / "eval", tmp_path / "results", cfg=cfg, pretrain_root=runs / "pretrain")
    learn = read_json(tmp_path / "results" / "health.json")["gates"][0]
    assert learn["name"] == "learnable" and not learn["passed"]
    assert any(c["value"] is None and not c["passed"] for c in learn["checks"])


def test_audit_recomputes_health_and_catches_an_edit(tmp_path, cfg):
    gates(tmp_path, cfg)
    results, runs = tmp_path / "results", tmp_path / "runs"
    assert check_health(results, cfg, runs) == []
    h = read_json(results / "health.json")
    h["gates"][2]["checks"][0]["value"] = 0.001  # a narrower CI than the runs give
    write_json(results / "health.json", h)
    got = check_health(results, cfg, runs)
    assert any("powered" in p and "value" in p for p in got), got
    h["gates"][2]["checks"][0]["value"] = read_json(results / "health.json")["gates"][2]["checks"][0]["value"]
    gates(tmp_path, cfg, scratch=0.5)  # a failing tree; then claim it passed
    h = read_json(results / "health.json")
    h["gates"][0]["passed"], h["passed"] = True, True
    write_json(results / "health.json", h)
    got = check_health(results, cfg, runs)
    assert any("learnable: passed=True" in p for p in got) and any("overall verdict" in p for p in got), got
    (results / "health.json").unlink()
    assert any("missing" in p for p in check_health(results, cfg, runs))


def test_trivial_predictor_of_normalised_pixels_scores_about_one():
    """The best constant prediction of per-patch normalised pixels: about 1.0 (the patch mean)."""
    import torch

    from motionmvm import methods
    from motionmvm.methods.trivial import trivial_loss

    c = config.load("params.yaml", "smoke")
    model = methods.get("videomae").build(c)
    g = torch.Generator().manual_seed(0)
    video = torch.randn(4, 3, c["pretrain"]["frames"], c["pretrain"]["size"], c["pretrain"]["size"], generator=g)
    grid = model.encoder.cfg.grid
    mask = torch.rand(4, *grid, generator=g) < 0.75
    loss = trivial_loss(model, {"video": video, "mask": mask})
    assert 0.9 < loss <= 1.0 + 1e-4
    tokens = torch.tensor([[0, 0, 1, 1]])  # masked codes {0, 0, 1, 1}: entropy ln 2
    assert trivial_loss(model, {"video": video, "mask": torch.ones(1, 4, dtype=torch.bool), "tokens": tokens}) \
        == pytest.approx(0.6931, abs=1e-3)


def test_single_frame_control_sees_no_motion():
    import torch

    from motionmvm.eval.encoder import single_frame

    x = torch.arange(2 * 3 * 4 * 2 * 2, dtype=torch.float32).reshape(2, 3, 4, 2, 2)
    y = single_frame(x)
    assert y.shape == x.shape and torch.equal(y[:, :, 0], x[:, :, 2]) and torch.equal(y[:, :, 3], x[:, :, 2])

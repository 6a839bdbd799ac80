"""The audit traces every cell of a (fabricated, consistent) results tree and fails, naming the
cell and the broken link, on each kind of tampering."""
import json
from pathlib import Path

import pytest

from motionmvm.io import read_json, write_json
from motionmvm.report.audit import audit
from motionmvm.report.table import read_cells
from tests.helpers import results_tree

REPO = Path(__file__).resolve().parents[1]
CELL0 = "linear_probe/videomae/synth"
CELL1 = "linear_probe/mgm/synth"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return results_tree.build(tmp_path, REPO)


def problems(tree):
    return audit(tree["table"], tree["cfg"])["problems"]


def test_consistent_tree_passes_and_traces_every_cell(tree):
    res = audit(tree["table"], tree["cfg"])
    assert res["ok"], res["problems"]
    assert [c["cell"].split(" ")[0] for c in res["cells"]] == [CELL1, CELL0]  # aggregate's row order
    assert len(res["cells"][1]["metrics_files"]) == 3
    assert res["cells"][1]["recomputed"]["mean"] == pytest.approx(
        sum(read_json(tree["run"]("videomae", s) / "metrics.json")["top1"] for s in (0, 1, 2)) / 3)


def test_edited_number_in_the_table(tree):
    text = tree["table"].read_text()
    cell = read_cells(tree["table"])[0]
    assert cell.name.startswith(CELL1)
    tree["table"].write_text(text.replace(cell.text, f"{cell.mean + 0.3:.1f} ± {cell.half_width:.1f}"))
    got = problems(tree)
    assert any(p.startswith(CELL1) and ": table.md: printed" in p for p in got), got
    assert not any(p.startswith(CELL0) for p in got)
    assert any(": dvc.lock: results/smoke/table.md" in p for p in got), got


def test_swapped_checkpoint(tree):
    enc = tree["encoder"]("mgm", 2)
    enc.write_bytes(tree["encoder"]("mgm", 1).read_bytes())
    got = problems(tree)
    assert any(p.startswith(CELL1) and ": checkpoint: " in p and "seed2" in p and "swapped" in p for p in got), got
    assert not any(p.startswith(CELL0) for p in got)


def test_stale_metrics_file_left_from_an_earlier_run(tree):
    import numpy as np
    run = tree["run"]("videomae", 1)
    results_tree.write_predictions(run / "predictions.csv", np.random.default_rng(99), skill=-5.0)
    got = problems(tree)
    assert any(p.startswith(CELL0) and ": metrics.json: " in p and "stale" in p for p in got), got


def test_metrics_made_with_other_params_are_stale(tree):
    m = tree["run"]("mgm", 0) / "metrics.json"
    d = read_json(m)
    d["provenance"]["params_hash"] = "0" * 64
    write_json(m, d)
    got = problems(tree)
    assert any(p.startswith(CELL1) and ": params: " in p for p in got), got


def test_changed_dataset_video(tree):
    video = tree["dataset"] / "videos" / "synth_test_run_2.mp4"
    video.write_bytes(b"x" + video.read_bytes()[1:])
    got = problems(tree)
    assert any(": dataset: video videos/synth_test_run_2.mp4 sha256" in p for p in got) and \
        {p.split(":")[0].split(" ")[0] for p in got} == {CELL0, CELL1}, got


def test_regenerated_manifest_with_another_hash(tree):
    summary = read_json(tree["dataset"] / "manifest.json")
    summary["hash"] = "f" * 64
    write_json(tree["dataset"] / "manifest.json", summary)
    got = problems(tree)
    assert any(": dataset: " in p and "manifest hash" in p for p in got), got


def test_changed_motion_settings(tree):
    s = read_json(tree["settings"])
    s["settings_hash"] = "1" * 64
    write_json(tree["settings"], s)
    assert any(": motion settings: " in p for p in problems(tree))


def test_forged_consistent_run_is_caught_by_dvc_lock(tree):
    """Predictions and metrics rewritten together (so they agree) differ from what DVC recorded."""
    import numpy as np
    run = tree["run"]("mgm", 1)
    top1 = results_tree.write_predictions(run / "predictions.csv", np.random.default_rng(5), skill=1.0)
    d = read_json(run / "metrics.json")
    d["top1"] = top1
    write_json(run / "metrics.json", d)
    got = problems(tree)
    assert any(p.startswith(CELL1) and ": dvc.lock: " in p and "predictions.csv" in p for p in got), got


def test_missing_metrics_file(tree):
    (tree["run"]("videomae", 0) / "metrics.json").unlink()
    got = problems(tree)
    assert any(p.startswith(CELL0) and ": metrics.json: " in p and "missing" in p for p in got), got


def test_cli_exit_status_and_trace(tree, tmp_path, capsys):
    from motionmvm.cli import main
    cmd = ["audit", str(tree["table"]), "--out", "results/smoke/audit.json"]
    assert main(cmd) == 0, capsys.readouterr()
    assert read_json(tmp_path / "results/smoke/audit.json")["ok"] is True
    tree["encoder"]("videomae", 0).write_bytes(b"other weights")
    assert main(cmd) == 1
    out = capsys.readouterr().out
    assert f"AUDIT FAIL {CELL0}" in out and "checkpoint" in out
    assert read_json(tmp_path / "results/smoke/audit.json")["ok"] is False


def test_dvc_lock_check_can_be_skipped_but_other_links_still_hold(tree):
    import numpy as np
    run = tree["run"]("mgm", 1)
    top1 = results_tree.write_predictions(run / "predictions.csv", np.random.default_rng(5), skill=1.0)
    d = read_json(run / "metrics.json")
    d["top1"] = top1
    write_json(run / "metrics.json", d)
    res = audit(tree["table"], tree["cfg"], check_dvc_lock=False)
    assert not any("dvc.lock" in p for p in res["problems"])
    assert any(": table.md: " in p for p in res["problems"])  # the printed mean no longer matches


def test_audit_reads_the_evaluation_areas_own_table(tree):
    """The table and summary as `motionmvm aggregate` writes them pass; an edit still fails."""
    from motionmvm.eval import aggregate as agg

    agg.aggregate("runs/smoke/eval", "results/smoke", cfg=tree["cfg"], pretrain_root="runs/smoke/pretrain")
    res = audit(tree["table"], tree["cfg"], check_dvc_lock=False)
    assert res["ok"], res["problems"]
    assert len(res["cells"]) == 2
    text = tree["table"].read_text()
    cell = read_cells(tree["table"])[0]
    tree["table"].write_text(text.replace(cell.text, f"{cell.mean - 1:.1f} ± {cell.half_width:.1f}", 1))
    assert any(": table.md: " in p for p in audit(tree["table"], tree["cfg"], check_dvc_lock=False)["problems"])


def test_missing_class_index_is_a_named_link_not_a_traceback(tree):
    (tree["dataset"] / "classInd.txt").unlink()
    got = problems(tree)
    assert any(": dataset: data/smoke/synth/classInd.txt is missing" in p for p in got), got


def test_runs_made_before_the_scored_record_are_named(tree):
    m = tree["run"]("mgm", 0) / "metrics.json"
    d = read_json(m)
    del d["scored"]
    write_json(m, d)
    got = problems(tree)
    assert any(p.startswith(CELL1) and ": scored split: " in p and "rerun the evaluation" in p for p in got), got

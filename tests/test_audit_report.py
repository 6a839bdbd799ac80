"""`motionmvm report` draws the plots from a results tree and writes a self-contained HTML report
with its own provenance; Snakemake's `--report` collects the annotated plots."""
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest

from motionmvm.report import plots
from motionmvm.report.html import read_provenance
from tests.helpers import results_tree

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return results_tree.build(tmp_path, REPO)


def test_report_draws_every_plot_and_the_page(tree, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "motionmvm.cli", "report", "--profile", "smoke"],
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    pdir = tmp_path / "results/smoke/plots"
    names = sorted(p.name for p in pdir.glob("*.png"))
    # the tree's summary.json (motionmvm.eval.aggregate) has mgm's paired difference to videomae: the forest plot
    assert names == ["accuracy.png", "accuracy_vs_gflops.png", "accuracy_vs_pretrain_time.png", "differences.png",
                     "training_curves.png"]
    for p in pdir.glob("*.png"):
        img = iio.imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.std() > 0
    page = (tmp_path / "results/smoke/report.html").read_text()
    assert page.count("data:image/png;base64,") == 5
    # the report leads with the paired differences, before the results table
    assert page.index("paired differences over seeds") < page.index("Results table")
    assert "<td>videomae</td>" in page and "<td>mgm</td>" in page  # the table rows
    assert "eval/linear_probe/mgm/synth/seed2/metrics.json" in page  # provenance of every run
    prov = read_provenance(tmp_path / "results/smoke/report.html")
    assert prov["profile"] == "smoke" and len(prov["params_hash"]) == 64


def test_plots_are_skipped_without_their_inputs(tmp_path):
    assert plots.accuracy_per_method([], tmp_path / "a.png") is None
    assert plots.training_curves(tmp_path, tmp_path / "t.png") is None
    assert plots.pretrain_times(tmp_path) == {}
    assert not list(tmp_path.glob("*.png"))


def test_training_log_columns(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("step,loss,phase\n0,2.0,warmup\n1,1.5,warmup\n")
    assert plots.read_log(log) == {"step": [0.0, 1.0], "loss": [2.0, 1.5]}


def test_report_inputs_grow_with_the_rules_that_exist():
    from types import SimpleNamespace as NS

    from motionmvm.report import smk

    def rule(name, *outs):
        return NS(name=name, is_producer=lambda p: p in outs)

    exp = {"methods": ["videomae"], "seeds": [0]}
    wf = NS(rules=[rule("report", "results/s/report.html")], executor_plugin=None)
    assert smk.report_inputs(wf, "results/s", "runs/s", exp, {"report"}) == []
    wf.rules += [rule("aggregate", "results/s/table.md", "results/s/summary.json"),
                 rule("pretrain", "runs/s/pretrain/videomae/seed0/log.csv")]
    assert smk.report_inputs(wf, "results/s", "runs/s", exp, {"report"}) == [
        "results/s/summary.json", "results/s/table.md", "runs/s/pretrain/videomae/seed0/log.csv",
        "results/s/audit.json"]
    assert str(smk.LaunchFlags(wf)) == ""
    wf.executor_plugin = NS(name="slurm")
    assert str(smk.LaunchFlags(wf)) == "--backend submitit"


def test_pretraining_time_sums_resumed_sessions(tmp_path):
    assert plots.training_seconds([1.0, 2.0, 3.0, 0.5, 1.5]) == 4.5  # 3 s, then a resumed 1.5 s
    run = tmp_path / "pretrain/mgm/seed0"
    run.mkdir(parents=True)
    (run / "log.csv").write_text("step,epoch,loss,lr,clips_per_s,elapsed_s\n1,0,2,0.1,5,10\n2,0,1,0.1,5,4\n")
    assert plots.pretrain_times(tmp_path) == {"mgm": 14.0}


def test_report_shows_the_signed_summary_hash(tree, tmp_path):
    from motionmvm.cli import main
    from motionmvm.io import sha256_file

    assert main(["audit", str(tree["table"]), "--out", "results/smoke/audit.json"]) == 0
    assert main(["report", "--profile", "smoke"]) == 0
    page = (tmp_path / "results/smoke/report.html").read_text()
    digest = sha256_file(tmp_path / "results/smoke/audit_summary.json")
    assert f"<code id='audit-summary-sha256'>{digest}</code>" in page and "Audit: passed" in page


def test_report_shows_the_pretraining_efficiency(tmp_path):
    from motionmvm.io import write_json
    from motionmvm.report.html import _efficiency_rows

    run = tmp_path / "pretrain" / "videomae" / "seed0"
    run.mkdir(parents=True)
    write_json(run / "metrics.json", {"device_name": "NVIDIA H200", "precision": "bfloat16",
                                      "clips_per_s": 812.25, "data_wait_fraction": 0.031,
                                      "gflops_per_clip": 201.4, "mfu": 0.4123})
    cpu = tmp_path / "pretrain" / "mgm" / "seed0"
    cpu.mkdir(parents=True)
    write_json(cpu / "metrics.json", {"device_name": "x86_64", "precision": "float32", "clips_per_s": 9.0,
                                      "data_wait_fraction": 0.5, "gflops_per_clip": 1.0, "mfu": None})
    table = _efficiency_rows(tmp_path)
    assert "<td>812.2</td><td>3.1%</td><td>201.4</td><td>41.2%</td>" in table
    assert "<td>50.0%</td><td>1.0</td><td>n/a</td>" in table


def test_a_one_seed_difference_is_drawn_without_an_interval_or_a_verdict(tmp_path, monkeypatch):
    """A cell on one seed (eval.seed_plan) has no CI: the forest plot says so and colours it as
    undecided, never as a zero-width interval that 'excludes 0'."""
    from motionmvm.eval.stats import paired_difference

    drawn = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path, dpi: drawn.setdefault("fig", fig) and path)
    rows = [{"protocol": "domain_adapt", "method": m, "dataset": "a-to-b", "seeds": [0],
             "vs_baseline": {"baseline": "domain_adapt/videomae/a-to-b",
                             "top1": paired_difference({0: 0.10}, {0: 0.15})}} for m in ("mgm", "mme")]
    rows.append({**rows[0], "protocol": "finetune", "dataset": "a", "seeds": [0, 1, 2],
                 "vs_baseline": {"baseline": "finetune/videomae/a",
                                 "top1": paired_difference({0: .1, 1: .11, 2: .12}, {0: .2, 1: .22, 2: .23})}})
    plots.forest(rows, tmp_path / "differences.png")
    texts = [t.get_text() for ax in drawn["fig"].axes for t in ax.texts]
    assert texts.count("-5.0 (1 seed, no CI)") == 2
    assert any(t.startswith("-10.7 [") for t in texts)  # three seeds: the interval
    colours = [line.get_color() for ax in drawn["fig"].axes for line in ax.lines if line.get_marker() == "o"]
    assert colours.count("tab:red") == 1 and colours.count("tab:blue") == 2

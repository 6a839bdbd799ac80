"""Reproduction experiments (experiments/*.yaml): loading and selection, the DVC route, the real-data
wiring they need (class lists, 0-based class indices, class-restricted clip banks) and the
reported-beside-reproduced comparison."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from eval_data import make_dataset
from eval_doubles import TinyEncoder
from fixtures import official
from fixtures.videos import tiny_video
from motionmvm import config, experiments
from motionmvm.data import build_manifest, manifest
from motionmvm.datasets import classlists
from motionmvm.datasets.prepare import prepare
from motionmvm.data import clips
from motionmvm.eval import encoder as enc_mod
from motionmvm.eval import protocols
from motionmvm.report import reported

REPO = Path(__file__).resolve().parents[1]
# the papers' plain-text copies: the steering repository's shared/ (inside or beside the checkout)
PAPERS = next((d for d in (REPO / "shared/papers", REPO.parent / "shared/papers", REPO.parents[1] / "shared/papers")
               if d.is_dir()), REPO / "shared/papers")
NAMES = experiments.names(REPO / "params.yaml")[1:]


def test_every_experiment_is_listed_and_loads_in_every_profile():
    assert {"demvm_ucf101", "demvm_hmdb51", "mgm_k400", "mgm_ssv2", "mme_k400", "mgmae_ssv2", "mar_k400"} <= set(NAMES)
    for name in NAMES:
        for profile in ("smoke", "paper"):
            cfg = config.load(REPO / "params.yaml", profile, experiment=name)
            assert cfg["experiment"]["name"] == name


@pytest.mark.parametrize("name", NAMES)
def test_reported_rows_are_runs_the_experiment_makes(name):
    """Each reported number names a run directory this experiment's DAG produces."""
    exp = experiments.load(name, REPO / "params.yaml")
    cfg = config.load(REPO / "params.yaml", "paper", experiment=name)
    ev, shape = cfg["eval"], cfg["experiment"]
    runs = {(p, m, d) for m in shape["methods"] for d in shape["eval_datasets"] for p in ("finetune", "linear_probe")}
    runs |= {("fewshot", m, d) for m in shape["methods"] for d in ev["fewshot"]["datasets"]}
    runs |= {("domain_adapt", m, f"{p['source']}-to-{p['target']}") for m in shape["methods"]
             for p in ev["domain_adapt"]["pairs"]}
    runs |= {("mar_finetune", f"mar_r{pct}", d) for pct in ev["mar"]["mask_percents"] for d in shape["eval_datasets"]}
    for row in exp["reported"]:
        assert (row["protocol"], row["method"], row["dataset"]) in runs, row


@pytest.mark.skipif(not PAPERS.is_dir(), reason="the papers' text copies are not beside the repository")
@pytest.mark.parametrize("name", NAMES)
def test_reported_numbers_are_the_papers(name):
    """Each reported number is printed in the named table of the paper's text (table caption and
    number within the same block of lines)."""
    exp = experiments.load(name, REPO / "params.yaml")
    text = (PAPERS / exp["paper"]["file"]).read_text()
    for row in exp["reported"]:
        table = re.match(r"(Table [0-9IVX]+)", row["table"]).group(1)
        caps = [m.start() for m in re.finditer(rf"{table}\b", text, flags=re.I)]
        assert caps, f"{table} not in {exp['paper']['file']}"
        near = "".join(text[max(0, c - 4000):c + 4000] for c in caps)
        assert f"{row['top1']:.1f}" in near, (name, row)


def test_recipe_applies_in_the_paper_profile_only():
    paper = config.load(REPO / "params.yaml", "paper", experiment="demvm_ucf101")
    smoke = config.load(REPO / "params.yaml", "smoke", experiment="demvm_ucf101")
    assert (paper["pretrain"]["epochs"], paper["model"]["swin"], paper["eval"]["finetune"]["epochs"]) == (10, "swin3d_b", 30)
    assert paper["pretrain"]["batch_size"] * paper["launch"]["gpus_per_node"] == 24  # the paper's batch 24
    assert smoke["pretrain"]["epochs"] == 2 and smoke["model"]["swin"] == "swin3d_tiny"
    for cfg in (paper, smoke):  # the shape applies in every profile
        assert cfg["experiment"]["pretrain_dataset"] == "ucf101" and cfg["eval"]["fewshot"]["datasets"] == []
        assert cfg["eval"]["mar"]["mask_percents"] == [] and cfg["eval"]["domain_adapt"]["pairs"] == []


def test_shared_budget_is_params_own_section():
    cfg = config.load(REPO / "params.yaml", "small")
    assert cfg["experiment"]["name"] == experiments.SHARED
    assert cfg["experiment"]["methods"] == yaml.safe_load((REPO / "params.yaml").read_text())["experiment"]["methods"]


def test_unknown_experiment_lists_the_allowed_ones():
    with pytest.raises(config.ConfigError, match=r"'nope' is not allowed; allowed values are \['shared_budget'.*'mgm_k400'"):
        config.load(REPO / "params.yaml", "smoke", experiment="nope")


def _params_copy(tmp_path: Path) -> Path:
    for part in ("workflow", "experiments"):
        shutil.copytree(REPO / part, tmp_path / part)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    return tmp_path / "params.yaml"


def test_dvc_route_writes_the_same_shape_into_params(tmp_path):
    """`dvc exp run $(motionmvm experiment dvc-args X)`: DVC's own override parser applied to
    params.yaml gives, without --experiment, the configuration `--experiment X` gives."""
    from dvc.utils.hydra import apply_overrides

    params = _params_copy(tmp_path)
    args = experiments.dvc_overrides("mgm_k400", "smoke", params)
    assert args[::2] == ["-S"] * (len(args) // 2) and not any(" " in a or "'" in a for a in args)
    apply_overrides(params, args[1::2])
    via_dvc = config.load(params)
    direct = config.load(params, "smoke", experiment="mgm_k400")
    assert via_dvc == direct
    raw = yaml.safe_load(params.read_text())  # what dvc.yaml's templates read
    assert raw["eval"]["domain_adapt"]["pairs"] == [{"source": "ucf101", "target": "hmdb51"},
                                                    {"source": "hmdb51", "target": "ucf101"}]


def test_experiment_name_without_its_shape_is_refused(tmp_path):
    params = _params_copy(tmp_path)
    params.write_text(params.read_text().replace("  name: shared_budget\n", "  name: mgm_k400\n", 1))
    with pytest.raises(config.ConfigError, match=r"experiment mgm_k400: params.yaml keys \['experiment.seeds', "
                                                 r".*differ .*dvc exp run \$\(motionmvm experiment dvc-args mgm_k400\)"):
        config.load(params, "smoke")


# ---- class lists of the partial domain adaptation pairs (Xu et al., ICCV 2021) -------------------

def test_shipped_class_lists():
    assert classlists.available() == ["hmdb51-to-ucf101", "ucf101-to-hmdb51"]
    u2h, h2u = classlists.load("ucf101-to-hmdb51"), classlists.load("hmdb51-to-ucf101")
    for cl in (u2h, h2u):  # 14 source classes, the first 7 with a target counterpart (PATAN's order)
        assert len(cl.source) == 14 and [t is not None for t in cl.target] == [True] * 7 + [False] * 7
    assert u2h.target_map()["climb"] == "RockClimbingIndoor" and h2u.target_map()["Archery"] == "shoot_bow"
    # both lists use one UCF <-> HMDB correspondence: UCF14's HMDB counterparts are HMDB14
    ucf_of_hmdb = {t: s for s, t in h2u.target_map().items()}
    for hmdb, ucf in ucf_of_hmdb.items():
        if hmdb in u2h.target_map():
            assert u2h.target_map()[hmdb] == ucf
    assert classlists.load("synth-to-synth_b") is None


def test_class_list_format_is_checked():
    with pytest.raises(ValueError, match="ids must run 0..1"):
        classlists.parse("0 a b\n2 c -\n", "x")
    with pytest.raises(ValueError, match="listed twice"):
        classlists.parse("0 a b\n1 c b\n", "x")


def test_clip_bank_restricted_and_renamed_by_a_class_list(tmp_path):
    make_dataset(tmp_path, "ucf101", ["red", "green", "blue"], {"test": 2}, seed=0)
    bank = clips.load_bank(tmp_path / "data/smoke/ucf101", "test", 16, classes={"blue": "blue", "red": "shared_red"})
    assert bank.class_names == ["blue", "shared_red"] and len(bank) == 4
    assert sorted(bank.labels.tolist()) == [0, 0, 1, 1]
    assert all(("blue" in c) == (y == 0) for c, y in zip(bank.clip_ids, bank.labels))
    with pytest.raises(ValueError, match=r"\['purple'\] are not in .*classInd.txt"):
        clips.load_bank(tmp_path / "data/smoke/ucf101", "test", 16, classes={"purple": "purple"})


def test_domain_adapt_trains_and_scores_by_the_class_list(tmp_path, monkeypatch):
    """Source trains on its listed classes only; target clips are scored as their source class."""
    make_dataset(tmp_path, "src", ["red", "green", "blue"], {"train": 3, "test": 1}, seed=0)
    make_dataset(tmp_path, "tgt", ["red", "green", "blue"], {"test": 2}, seed=1)
    monkeypatch.setattr(enc_mod, "read_checkpoint", lambda path: {"model": "tiny", "config": {}, "state_dict": {}})
    monkeypatch.setattr(enc_mod, "build_encoder", lambda ckpt, **kw: TinyEncoder(frames=4, size=16))
    torch.set_num_threads(1)
    (tmp_path / "enc.pt").write_bytes(b"weights")
    # source classes red, blue (green is not listed); target green is scored as source red
    cl = classlists.parse("0 red green\n1 blue -\n", "src-to-tgt")
    ft = {"epochs": 1, "scratch_epochs": 1, "warmup_epochs": 0, "batch_size": 2, "base_lr": 0.1, "min_lr": 1e-6,
          "weight_decay": 0.0, "betas": [0.9, 0.999], "layer_decay": 0.75, "drop_path": 0.0, "head_dropout": 0.0,
          "clip_grad": 0.0, "mixup": 0.0, "cutmix": 0.0, "mixup_prob": 0.0, "mixup_switch_prob": 0.5,
          "label_smoothing": 0.0, "randaug_n": 0, "randaug_m": 9, "reprob": 0.0, "repeated_aug": 1,
          "crop_scale": [0.5, 1.0], "hflip": 0.0, "test_clips": 1, "test_crops": 1, "max_train_clips": 0,
          "max_test_clips": 0}
    cfg = {"profile": "smoke", "paths": {}, "data": {"store": {"enabled": False}},  # decode the videos
           "eval": {"threads": 1, "stride": 2, "batch_size": 4, "finetune": ft}}
    m = protocols.finetune(cfg, method="videomae", dataset_dir=tmp_path / "data/smoke/src", encoder_path=tmp_path / "enc.pt",
                           out_dir=tmp_path / "da", seed=0, protocol_cfg=ft, eval_classes_from=tmp_path / "data/smoke/tgt",
                           class_list=cl, log=lambda *_: None)
    assert m["class_names"] == ["red", "blue"] and m["train_clips"] == 6 and m["class_list"] == "src-to-tgt"
    assert m["eval_classes"] == ["red"] and m["clips_evaluated"] == 2  # the 2 green target clips
    rows = (tmp_path / "da/predictions.csv").read_text().splitlines()[1:]
    assert {r.split(",")[0] for r in rows} == {"tgt_test_green_0", "tgt_test_green_1"}
    assert {r.split(",")[1] for r in rows} == {"0"}  # label = source class red


def test_prepared_dataset_manifest_reads_zero_based_ids_and_spaces(tmp_path):
    """`motionmvm prepare` writes 0-based classInd.txt with names like "playing guitar": the
    manifest and the clip bank read them (the embedded benchmark's 1-based files too)."""
    cfg = config.load(REPO / "params.yaml", "smoke")
    cfg["paths"]["data"] = str(tmp_path / "data")
    cfg["datasets"]["ucf101"].update(root=str(tmp_path / "raw"), url=None, split=2)
    official.ucf101(tmp_path / "raw", video_bytes=tiny_video(frames=8))
    prepare("ucf101", cfg, progress=False)
    out = tmp_path / "data/smoke/ucf101"
    (out / "classInd.txt").write_text("0 Apply Eye Makeup\n1 Archery\n2 HandstandPushups\n")  # a spaced name
    summary = build_manifest.build(out, "a", min_frames=8, max_fraction=0.0, split=2)
    entries = manifest.load(out)
    assert summary["ok"] == 18 and {e["label"] for e in entries} == {0, 1, 2}
    assert {e["label_name"] for e in entries if e["label"] == 0} == {"Apply Eye Makeup"}
    test = [e for e in entries if e["split"] == "test"]
    assert len(test) == 6 and all("_g02_" in e["path"] for e in test)  # split 2 tests group 2
    assert clips.class_names(out) == ["Apply Eye Makeup", "Archery", "HandstandPushups"]


# ---- reported beside reproduced ----------------------------------------------------------------

def _summary(rows):
    return {"confidence": 0.95, "rows": rows}


def test_compare_difference_and_ci(tmp_path):
    rep = [{"protocol": "finetune", "method": "mgm", "dataset": "k400", "top1": 80.8, "table": "Table 1",
            "section": "4.3", "setting": "s"},
           {"protocol": "finetune", "method": "videomae", "dataset": "k400", "top1": 80.0, "table": "Table 1",
            "section": "4.3", "setting": "s"},
           {"protocol": "fewshot", "method": "mgm", "dataset": "mimetics", "top1": 14.1, "table": "Table 4",
            "section": "4.2", "setting": "s"},
           {"protocol": "linear_probe", "method": "mgm", "dataset": "ucf101", "top1": 77.5, "table": "Table 2",
            "section": "4.4", "setting": "s"}]
    runs = tmp_path / "runs"
    run = runs / "eval/finetune/videomae/k400/seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"top1": 0.75, "clips_evaluated": 200}))
    few = runs / "eval/fewshot/mgm/mimetics/seed0"
    few.mkdir(parents=True)
    (few / "metrics.json").write_text(json.dumps({"top1": 0.12, "clips_evaluated": 600, "top1_per_draw": [0.1] * 10,
                                                  "top1_over_draws": {"mean": 0.12, "ci_low": 0.10, "ci_high": 0.14}}))
    rows = [{"protocol": "finetune", "method": "mgm", "dataset": "k400", "seeds": [0, 1, 2],
             "top1": {"mean": 0.79, "ci_low": 0.78, "ci_high": 0.80, "half_width": 0.01}},
            {"protocol": "finetune", "method": "videomae", "dataset": "k400", "seeds": [0],
             "top1": {"mean": 0.75, "ci_low": None, "ci_high": None, "half_width": None}},
            {"protocol": "fewshot", "method": "mgm", "dataset": "mimetics", "seeds": [0],
             "top1": {"mean": 0.12, "ci_low": None, "ci_high": None, "half_width": None}}]
    seeds, single, draws, missing = reported.compare(rep, _summary(rows), runs)
    assert seeds["reproduced"] == pytest.approx(79.0) and seeds["difference"] == pytest.approx(-1.8)
    assert seeds["diff_ci"] == pytest.approx((-2.8, -0.8)) and seeds["ci_kind"] == "t over 3 seeds"
    # one seed: Wilson interval of 150 / 200 correct test clips
    assert single["difference"] == pytest.approx(-5.0) and single["ci_kind"] == "Wilson, 200 test clips"
    z, n, p = 1.959964, 200, 0.75  # Wilson score interval, written out
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert single["diff_ci"] == pytest.approx((100 * (centre - half) - 80.0, 100 * (centre + half) - 80.0), abs=1e-3)
    assert draws["diff_ci"] == pytest.approx((-4.1, -0.1)) and draws["ci_kind"] == "10 draws of shots"
    assert missing["reproduced"] is None and missing["diff_ci"] is None
    md = reported.markdown([seeds, missing])
    assert "| finetune | mgm | k400 | 80.8 | 79.0 | -1.8 | [-2.8, -0.8] (t over 3 seeds) | Table 1 |" in md
    assert "| linear_probe | mgm | ucf101 | 77.5 | not run yet |" in md


def test_report_shows_reported_beside_reproduced(tmp_path, monkeypatch):
    """`motionmvm report --experiment mar_k400` on a fabricated results tree: the section names the
    paper, the reported number, ours and the difference; the shared budget has no such section."""
    from helpers.results_tree import build
    from motionmvm.cli import main

    monkeypatch.chdir(tmp_path)
    tree = build(tmp_path, REPO, write_lock=False)
    (tmp_path / "experiments").symlink_to(REPO / "experiments")
    summary_path = tmp_path / "results/smoke/summary.json"
    summary = json.loads(summary_path.read_text())
    row = dict(summary["rows"][0], protocol="mar_finetune", method="mar_r50", dataset="k400")
    summary["rows"].append(row)
    summary_path.write_text(json.dumps(summary))
    assert main(["report", "--params", "params.yaml", "--profile", "smoke", "--experiment", "mar_k400"]) == 0
    page = (tmp_path / "results/smoke/report.html").read_text()
    assert "Reported beside reproduced: mar_k400" in page and "MAR: Masked Autoencoders" in page
    expect = f"{100 * row['top1']['mean']:.1f}"
    assert f"<td>81.0</td><td>{expect}</td><td>{100 * row['top1']['mean'] - 81.0:+.1f}</td>" in page
    assert "<td>79.4</td><td>not run yet</td>" in page
    assert main(["report", "--params", "params.yaml", "--profile", "smoke"]) == 0
    assert "Reported beside reproduced" not in (tmp_path / "results/smoke/report.html").read_text()
    assert tree is not None

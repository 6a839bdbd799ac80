from pathlib import Path

import pytest
import yaml

from motionmvm import config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("profile", ["smoke", "small", "paper"])
def test_eval_section_loads(profile):
    ev = config.load(ROOT / "params.yaml", profile)["eval"]
    small = profile == "small"  # small: 5 shots x 20 draws (issue 11, docs/calibration.md)
    assert ev["finetune"]["layer_decay"] == 0.75 and ev["mar"]["recon_weight"] == {"default": 0.1, "k400": 0.01}
    # the paper profile evaluates on real data: Mimetics few-shot, UCF14 <-> HMDB7 partial DA
    real = profile == "paper"
    assert ev["fewshot"]["k"] == (5 if small else 2) and ev["fewshot"]["datasets"] == (["mimetics"] if real else ["synth_mimed"])
    assert ev["domain_adapt"]["pairs"] == ([{"source": "ucf101", "target": "hmdb51"}, {"source": "hmdb51", "target": "ucf101"}]
                                           if real else [{"source": "synth", "target": "synth_b"}])


def test_paper_profile_keeps_the_videomae_recipe():
    ft = config.load(ROOT / "params.yaml", "paper")["eval"]["finetune"]
    assert (ft["mixup"], ft["cutmix"], ft["label_smoothing"], ft["repeated_aug"]) == (0.8, 1.0, 0.1, 2)
    assert (ft["test_clips"], ft["test_crops"], ft["warmup_epochs"]) == (5, 3, 5)


@pytest.mark.parametrize("override, message", [
    ({"finetune": {"mixup_prob": 1.5}}, "eval.finetune.mixup_prob"),
    ({"finetune": {"mixupp": 0.8}}, "mixupp"),
    ({"mar": {"mask_percents": [40]}}, "eval.mar.mask_percents"),
    ({"fewshot": {"datasets": ["nope"]}}, "eval.fewshot.datasets.0"),
])
def test_bad_eval_params_are_refused(tmp_path, override, message):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["eval"] = config.deep_merge(raw["eval"], override)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "workflow").symlink_to(ROOT / "workflow")
    with pytest.raises(config.ConfigError, match=message):
        config.load(tmp_path / "params.yaml", "small")

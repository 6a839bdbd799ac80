"""The masking / targets sections of params.yaml are validated: ratios outside [0, 1] refused."""
import pytest
import yaml

from motionmvm import config


def _write(tmp_path, params):
    (tmp_path / "workflow").symlink_to(config.schema_dir("params.yaml").parent.resolve())
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    return p


def test_shipped_defaults_follow_the_papers():
    m = config.load("params.yaml", "paper")["masking"]
    assert m["tube"]["ratio"] == 0.9 and m["mme_tube"]["ratio"] == 0.7
    assert m["mgmae"]["ratio"] == 0.9 and m["mgm"]["ratio"] == 0.75
    assert m["fgdm"]["p_den"] == 0.7
    assert m["fgdm"]["pmr"] == {"spa_start": 0.3, "spa_end": 0.8, "tmp_start": 0.3,
                                "tmp_end": 0.9, "total_epochs": 100}
    assert m["cell_running"]["ratio"] == 0.5


@pytest.mark.parametrize("path,value,match", [
    (("masking", "tube", "ratio"), 1.5, r"masking\.tube\.ratio: 1\.5 is out of range"),
    (("masking", "fgdm", "p_den"), -0.1, r"masking\.fgdm\.p_den"),
    (("masking", "cell_running", "ratio"), 0.6, r"masking\.cell_running\.ratio"),
    (("masking", "mgmae", "hole_fill"), "zeros", r"allowed values"),
    (("masking", "mgm", "bogus"), 1, r"unknown key masking\.mgm\.bogus"),
])
def test_bad_masking_values_are_refused(tmp_path, path, value, match):
    raw = yaml.safe_load(open("params.yaml"))
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(config.ConfigError, match=match):
        config.load(_write(tmp_path, raw))


def test_strategy_kwargs_from_the_masking_section():
    from motionmvm.masking.settings import strategy_kwargs
    section = config.load("params.yaml", "paper")["masking"]
    ratio, kw = strategy_kwargs(section, "fgdm", epoch=0)
    assert ratio == pytest.approx(0.3) and kw == {"p_den": 0.7, "p_tmp": pytest.approx(0.3)}
    ratio, kw = strategy_kwargs(section, "fgdm", epoch=25)
    assert ratio == pytest.approx(0.3 + 0.5 * 0.5) and kw["p_tmp"] == pytest.approx(0.6)
    ratio, kw = strategy_kwargs(section, "mgmae")
    assert ratio == 0.9 and kw == {"hole_fill": "tube", "topk": "frame", "centres": "paper",
                                     "gaussian": "paper"}
    assert strategy_kwargs(section, "cell_running") == (
        0.5, {"spatial": "repeated", "temporal": "shuffled", "order": "raster"})
    assert strategy_kwargs(section, "mgm_sparse") == (0.75, {})
    assert strategy_kwargs(section, "tube") == (0.9, {})

"""params.yaml is validated before anything runs; bad values are refused with the key named."""
import pytest
import yaml

from motionmvm import config


def write_params(tmp_path, params):
    (tmp_path / "workflow").symlink_to(config.schema_dir("params.yaml").parent.resolve())
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    return p


@pytest.fixture
def base():
    return yaml.safe_load(open("params.yaml"))


@pytest.mark.parametrize("profile", config.PROFILES)
def test_every_profile_of_the_shipped_file_is_valid(profile):
    cfg = config.load("params.yaml", profile)
    assert cfg["profile"] == profile


def test_unknown_key_is_refused_with_allowed_keys(tmp_path, base):
    base["experiment"]["bogus"] = 1
    with pytest.raises(config.ConfigError, match=r"unknown key experiment\.bogus.*allowed keys"):
        config.load(write_params(tmp_path, base))


def test_unknown_method_names_allowed_values(tmp_path, base):
    base["experiment"]["methods"] = ["videomae", "magic"]
    with pytest.raises(config.ConfigError, match=r"experiment\.methods\.1: 'magic'.*videomae"):
        config.load(write_params(tmp_path, base))


def test_unknown_dataset_is_refused(tmp_path, base):
    base["experiment"]["pretrain_dataset"] = "imagenet"
    with pytest.raises(config.ConfigError, match=r"pretrain_dataset.*allowed values"):
        config.load(write_params(tmp_path, base))


def test_wrong_type_inside_a_profile_override_is_refused(tmp_path, base):
    base["profiles"]["smoke"] = {"experiment": {"seeds": "zero"}}
    with pytest.raises(config.ConfigError, match=r"(?s)profile smoke.*experiment\.seeds: expected array"):
        config.load(write_params(tmp_path, base), "small")


def test_unknown_profile_is_refused(base):
    with pytest.raises(config.ConfigError, match="allowed values are"):
        config.load("params.yaml", "huge")


def test_cli_refuses_bad_params_before_running(tmp_path, base, capsys):
    from motionmvm.cli import main
    base["experiment"]["seeds"] = [-1]
    path = write_params(tmp_path, base)
    # any sub-command that loads the config must refuse; `config show` is the cheapest one.
    assert main(["config", "--params", str(path)]) == 2
    assert "experiment.seeds.0" in capsys.readouterr().err


def test_params_hash_is_stable_and_sensitive():
    a = config.load("params.yaml", "small")
    b = config.load("params.yaml", "small")
    assert config.params_hash(a) == config.params_hash(b)
    assert config.params_hash(a) != config.params_hash(config.load("params.yaml", "smoke"))


def test_params_hash_ignores_presentation_only_sections():
    a = config.load("params.yaml", "small")
    b = config.load("params.yaml", "small", overrides={"report": {"dpi": 61}, "launch": {"mem_gb": 3}})
    c = config.load("params.yaml", "small", overrides={"masking": {"tube": {"ratio": 0.5}}})
    assert config.params_hash(a) == config.params_hash(b) != config.params_hash(c)


def test_params_file_outside_the_project_is_checked_against_the_project_schema(tmp_path, base, capsys):
    from motionmvm.cli import main

    outside = tmp_path / "elsewhere" / "params.yaml"  # no workflow/schemas beside it
    outside.parent.mkdir()
    outside.write_text(yaml.safe_dump(base))
    assert config.schema_dir(outside) == config.PROJECT_ROOT / "workflow" / "schemas"
    assert config.load(outside, "smoke")["profile"] == "smoke"
    base["experiment"]["bogus"] = 1
    outside.write_text(yaml.safe_dump(base))
    assert main(["config", "--params", str(outside), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "unknown key experiment.bogus" in err and "Traceback" not in err

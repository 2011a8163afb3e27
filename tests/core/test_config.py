"""Configuration layers, profiles and validation, as a user meets them."""

from __future__ import annotations

import pytest

from clustrix import ConfigError, cluster, configure
from clustrix.config import user_config_path
from clustrix.lifecycle import resolve
from clustrix.plugins import manager


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path / "clustrix.toml"


def write_user_config(text):
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_run_locally_with_nothing_configured(project):
    settings = resolve({})
    assert settings["cluster_type"] == "local"
    assert settings.sources["cluster_type"] == "default"


def test_each_layer_overrides_the_one_below(project, monkeypatch):
    write_user_config('partition = "user"\naccount = "user"\nqos = "user"\nqueue = "user"\njob_name = "user"\n')
    project.write_text('partition = "project"\naccount = "project"\nqos = "project"\nqueue = "project"\n')
    monkeypatch.setenv("CLUSTRIX_PARTITION", "env")
    monkeypatch.setenv("CLUSTRIX_ACCOUNT", "env")
    monkeypatch.setenv("CLUSTRIX_QOS", "env")
    configure(partition="configure", account="configure")
    settings = resolve({"partition": "decorator"})
    got = {k: (settings[k], settings.sources[k]) for k in ("partition", "account", "qos", "queue", "job_name")}
    assert got == {
        "partition": ("decorator", "decorator"),
        "account": ("configure", "configure()"),
        "qos": ("env", "env"),
        "queue": ("project", str(project)),
        "job_name": ("user", str(user_config_path())),
    }


def test_env_values_are_converted_to_the_key_type(monkeypatch, project):
    monkeypatch.setenv("CLUSTRIX_CORES", "8")
    monkeypatch.setenv("CLUSTRIX_KEEP_FILES", "yes")
    monkeypatch.setenv("CLUSTRIX_ENV", '{"OMP_NUM_THREADS": "8"}')
    settings = resolve({})
    assert (settings["cores"], settings["keep_files"], settings["env"]) == (8, True, {"OMP_NUM_THREADS": "8"})


def test_bad_env_value_names_the_variable(monkeypatch, project):
    monkeypatch.setenv("CLUSTRIX_CORES", "many")
    with pytest.raises(ConfigError, match="env CLUSTRIX_CORES: cores must be int, not 'many'"):
        resolve({})


def test_profile_selected_by_decorator_sits_below_the_decorator(project):
    project.write_text(
        'cluster_type = "local"\npartition = "cpu"\n[profiles.gpu]\npartition = "gpu"\ngpus = 1\ntime = "01:00:00"\n'
    )
    configure(gpus=4)
    settings = resolve({"profile": "gpu", "time": "00:10:00"})
    assert settings["partition"] == "gpu" and settings.sources["partition"] == "profile gpu"
    assert settings["gpus"] == 1, "the profile was selected above configure(), so its values win there"
    assert settings["time"] == "00:10:00"


def test_profile_selected_in_a_file_applies_below_configure(project):
    project.write_text('profile = "big"\n[profiles.big]\ncores = 16\nmemory = "64GB"\n')
    configure(cores=2)
    settings = resolve({})
    assert (settings["cores"], settings["memory"]) == (2, "64GB")


def test_user_config_profiles_are_available_to_projects(project):
    write_user_config('[profiles.home]\naccount = "lab"\n')
    assert resolve({"profile": "home"})["account"] == "lab"


def test_undefined_profile_is_an_error_listing_defined_ones(project):
    project.write_text("[profiles.gpu]\ngpus = 1\n")
    with pytest.raises(ConfigError, match="profile 'cpu' is not defined; defined profiles: gpu"):
        resolve({"profile": "cpu"})


def test_unknown_key_in_configure_names_key_and_valid_choices():
    with pytest.raises(ConfigError, match=r"configure\(\): unknown key 'clustre_host'.*Did you mean 'cluster_host'"):
        configure(clustre_host="x")


def test_unknown_key_in_project_file_names_file_and_key(project):
    project.write_text('[profiles.a]\nmemroy = "1GB"\n')
    with pytest.raises(ConfigError, match=r"clustrix.toml \[profiles.a\]: unknown key 'memroy'.*'memory'"):
        resolve({})


def test_malformed_toml_names_the_file(project):
    project.write_text("cores = = 2\n")
    with pytest.raises(ConfigError, match=r"clustrix\.toml: not valid TOML"):
        resolve({})


def test_malformed_memory_in_config_fails_before_submit(project, clustrix_home):
    project.write_text('memory = "lots"\n')

    @cluster
    def f():
        return 1

    with pytest.raises(ConfigError, match="memory: cannot read 'lots'"):
        f.submit()
    assert not (clustrix_home / "jobs").exists() or not list((clustrix_home / "jobs").iterdir())


def test_unknown_backend_says_which_package_to_install(project):
    @cluster(cluster_type="lsf")
    def f():
        return 1

    with pytest.raises(ConfigError, match=r"pip install clustrix-lsf.*clustrix\[lsf\]"):
        f.submit()


def test_plugin_settings_are_valid_keys():
    assert "cores" in manager().settings()

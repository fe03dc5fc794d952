"""Renamed options and moved modules keep working, with one warning that names the
new ``Class.trait`` or module (jhub_kit/deprecation.py; the model is DockerSpawner's
``_deprecated_aliases``)."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from types import SimpleNamespace

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jhub_kit.config import JhubKit, add_dashboard
from jhub_kit.provision.btrfs import BtrfsProvisioner
from jhub_kit.spawners.docker import QuotaDockerSpawner
from jhub_kit.spawners.swarm import QuotaSwarmSpawner

USER = SimpleNamespace(name="alice", groups=[])


def spawner(cls, c):
    return cls(config=c, user=USER)


def provisioner(cls, c):
    return cls(config=c)


# (the class to build, how, the section the site writes, old, new, a value, another)
RENAMES = [
    pytest.param(
        QuotaDockerSpawner, spawner, "QuotaDockerSpawner", "startup_timeout",
        "start_after_queue_timeout", 300.0, 45.0, id="docker-startup_timeout",
    ),
    pytest.param(
        QuotaSwarmSpawner, spawner, "QuotaSwarmSpawner", "startup_timeout",
        "start_after_queue_timeout", 300.0, 45.0, id="swarm-startup_timeout",
    ),
    pytest.param(
        BtrfsProvisioner, provisioner, "BtrfsProvisioner", "pool_size",
        "pool_image_size", 2 * 1024**3, 5 * 1024**3, id="btrfs-pool_size",
    ),
]  # fmt: skip


def deprecations(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize(("cls", "make", "section", "old", "new", "value", "other"), RENAMES)
def test_the_old_name_applies_with_one_warning_naming_the_new(
    cls, make, section, old, new, value, other, caplog
):
    c = Config()
    c[section][old] = value
    with warnings.catch_warnings(record=True) as record, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        obj = make(cls, c)
    assert getattr(obj, new) == value
    assert getattr(obj, old) == value
    [message] = deprecations(record)
    assert f"{cls.__name__}.{old} is deprecated" in message
    assert f"use {cls.__name__}.{new}" in message
    assert [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()] == [message]
    # the hub's one config, read again by the next user's spawner: no second warning
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert getattr(make(cls, c), new) == value
    assert deprecations(again) == []


@pytest.mark.parametrize(("cls", "make", "section", "old", "new", "value", "other"), RENAMES)
def test_the_new_name_works_without_a_warning(cls, make, section, old, new, value, other):
    c = Config()
    c[section][new] = value
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        obj = make(cls, c)
    assert getattr(obj, new) == value
    assert getattr(obj, old) == value  # an old name never set reads as the new one
    assert deprecations(record) == []


@pytest.mark.parametrize(("cls", "make", "section", "old", "new", "value", "other"), RENAMES)
@pytest.mark.parametrize("old_first", [True, False], ids=["old-first", "new-first"])
def test_both_names_set_the_new_one_wins(cls, make, section, old, new, value, other, old_first):
    c = Config()
    for key, v in [(old, other), (new, value)] if old_first else [(new, value), (old, other)]:
        c[section][key] = v
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        obj = make(cls, c)
    assert getattr(obj, new) == value
    [message] = deprecations(record)
    assert f"{cls.__name__}.{old} = {other!r} is ignored" in message
    assert f"{cls.__name__}.{new} = {value!r} applies" in message


def test_the_old_name_on_a_parent_section_applies_to_the_kit_spawner():
    c = Config()
    c.DockerSpawner.image = "x"  # unrelated, as a site has it
    c.QuotaDockerSpawner.startup_timeout = 50
    sp = QuotaDockerSpawner(config=c, user=USER)
    assert sp.start_after_queue_timeout == 50
    assert sp.start_timeout == int(sp.queue_timeout + 50)  # the default built from it


def test_the_old_name_is_checked_as_the_new_one_is():
    c = Config()
    c.BtrfsProvisioner.pool_size = "lots"
    with pytest.raises(TraitError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        BtrfsProvisioner(config=c)


def test_dockerspawner_s_own_aliases_still_work_beside_the_kit_s():
    """The kit's table has its own name: DockerSpawner's ``_deprecated_aliases`` stays."""
    c = Config()
    c.QuotaDockerSpawner.container_image = "old/image:1"
    c.QuotaDockerSpawner.startup_timeout = 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = QuotaDockerSpawner(config=c, user=USER)
    assert sp.image == "old/image:1" and sp.start_after_queue_timeout == 60


def test_jhubkit_config_file_is_ignored_with_a_warning_saying_so(caplog):
    c = Config()
    c.JhubKit.config_file = "/srv/jupyterhub/jupyterhub_config.py"
    c.JhubKit.dashboard_group = "staff"
    with warnings.catch_warnings(record=True) as record, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        kit = JhubKit(config=c)
    assert kit.dashboard_group == "staff"
    [message] = deprecations(record)
    assert message.startswith("JhubKit.config_file is ignored since jhub_kit 0.4")
    assert "JhubKit.dashboard_settings" in message and "remove it" in message
    assert message in caplog.text


def test_add_dashboard_accepts_0_3_s_config_file_keyword_with_a_warning():
    old, new = Config(), Config()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        add_dashboard(old, group="teachers", config_file="/srv/jupyterhub/jupyterhub_config.py")
    [message] = deprecations(record)
    assert "config_file" in message and "ignored" in message
    add_dashboard(new, group="teachers")
    # the same service and roles as without the keyword (the URL's free port aside)
    for c in (old, new):
        [svc] = c.JupyterHub.services
        svc.pop("url")
    assert old.JupyterHub.services == new.JupyterHub.services
    assert old.JupyterHub.load_roles == new.JupyterHub.load_roles
    with pytest.raises(TypeError):
        add_dashboard(Config(), config_files="x")  # other unknown keywords still fail


#: every module path 0.3.0's README, docs/ and example_config/ named that moved in 0.4,
#: with a name each had then
MOVED = [
    ("spawner", "spawners.docker", "QuotaDockerSpawner"),
    ("swarm_spawner", "spawners.swarm", "QuotaSwarmSpawner"),
    ("quota_config", "quota.traits", "QuotaConfigMixin"),
    ("docker_limits", "quota.docker_limits", None),
    ("hardening", "network.hardening", None),
    ("firewall", "network.firewall", None),
    ("dockerspawner_adapter", "spawners.adapter", None),
    ("admission", "loop.admission", "StartGate"),
    ("oom", "spawners.oom", None),
    ("student_view", "views.student", "template_var"),
    ("dashboard", "views.dashboard", "SERVICE_NAME"),
    ("report", "views.report", None),
    ("policy_file", "quota.policy_file", "parse_policy_text"),
    ("userlist", "auth.userlist", None),
    ("native", "auth.native", "UserlistNativeAuthenticator"),
    ("oauth", "auth.oauth", "UserlistGitHubOAuthenticator"),
    ("csvimport", "cli.csvimport", None),
    ("pool_launcher", "pool.launcher", None),
]

#: moved in 0.5: the loop's health and the start gate, out of the spawners' layer
MOVED_IN_0_5 = [
    ("spawners.loop_health", "loop.health", "LoopHealth"),
    ("spawners.admission", "loop.admission", "StartGate"),
]


@pytest.mark.parametrize(
    ("old", "new", "name", "version"),
    [(*m, "0.4") for m in MOVED] + [(*m, "0.5") for m in MOVED_IN_0_5],
    ids=[m[0] for m in MOVED + MOVED_IN_0_5],
)
def test_an_old_module_path_warns_and_hands_out_the_new_module_s_names(old, new, name, version):
    old, new = f"jhub_kit.{old}", f"jhub_kit.{new}"
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        exec(compile(f"import {old}", __file__, "exec"), {})  # an import statement, here
    shim = sys.modules[old]
    # (the new module's own imports may warn too: oauthenticator's)
    [ours] = [w for w in record if str(w.message).startswith(f"{old} moved")]
    assert str(ours.message).startswith(f"{old} moved to {new} in jhub_kit {version}")
    assert ours.filename == __file__  # pointed at the import, not at the shim
    target = importlib.import_module(new)
    assert shim.__all__ and all(getattr(shim, n) is getattr(target, n) for n in shim.__all__)
    if name:
        assert getattr(shim, name) is getattr(target, name)
    with pytest.raises(AttributeError, match=f"was '{old}'"):
        _ = shim.no_such_name


def test_a_class_named_by_its_0_3_path_in_a_config_string_resolves():
    from traitlets.utils.importstring import import_item

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert import_item("jhub_kit.spawner.QuotaDockerSpawner") is QuotaDockerSpawner
        assert import_item("jhub_kit.swarm_spawner.QuotaSwarmSpawner") is QuotaSwarmSpawner

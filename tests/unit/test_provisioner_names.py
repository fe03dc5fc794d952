"""Home provisioners by name, pure: the kit's names, the entry-point group that
registers them and another package's, class paths, and the errors. No services.

The same third-party provisioner making a real home through a spawner is in
tests/integration/test_extension_points_hub.py."""

from __future__ import annotations

import importlib
import logging
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path
from types import SimpleNamespace

import pytest
from thirdparty import install_distribution
from traitlets.config import Config

from jhub_kit import QuotaDockerSpawner, QuotaSwarmSpawner
from jhub_kit.provision import (
    BACKENDS,
    ENTRY_POINT_GROUP,
    make_provisioner,
    pre_spawn_hook,
    provisioner_class,
    registered,
)
from jhub_kit.provision.directory import DirectoryProvisioner

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
BUILTIN_CLASSES = {
    "directory": "DirectoryProvisioner",
    "loopfile": "LoopfileProvisioner",
    "btrfs": "BtrfsProvisioner",
    "lvm": "LvmProvisioner",
    "docker-volume": "DockerVolumeProvisioner",
    "system-user": "SystemUserProvisioner",
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path where a test installs distributions."""
    where = tmp_path / "site"
    where.mkdir()
    monkeypatch.syspath_prepend(str(where))
    yield where
    importlib.invalidate_caches()


@pytest.mark.parametrize("name", sorted(BUILTIN_CLASSES))
def test_each_builtin_name_resolves_to_its_class(name):
    cls = provisioner_class(name)
    assert cls.__name__ == BUILTIN_CLASSES[name]
    assert cls.__module__ == BACKENDS[name].split(":")[0]
    assert cls.backend == name
    assert provisioner_class(name.upper()) is cls  # case-insensitive, as JupyterHub's


def test_the_builtin_table_is_the_one_pyproject_registers():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["entry-points"][ENTRY_POINT_GROUP] == BACKENDS
    assert set(BACKENDS) == set(BUILTIN_CLASSES)


def test_the_installed_kit_registers_its_names():
    """The names resolve through the entry points, not only the fallback table
    (which is there for a checkout whose metadata predates them)."""
    eps = distribution("jhub_kit").entry_points
    mine = {ep.name: ep.value for ep in eps if ep.group == ENTRY_POINT_GROUP}
    if not mine:
        pytest.skip("jhub_kit's installed metadata predates its entry points: pip install -e .")
    assert mine == BACKENDS
    assert {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} >= set(BACKENDS)


@pytest.mark.parametrize("spawner", [QuotaDockerSpawner, QuotaSwarmSpawner])
def test_the_option_help_lists_every_builtin_name(spawner):
    help_text = spawner.class_traits()["home_provisioner"].help
    missing = [name for name in BACKENDS if f'``"{name}"``' not in help_text]
    assert not missing, f"home_provisioner's help does not name {missing}"
    assert ENTRY_POINT_GROUP in help_text


def test_an_unknown_name_lists_the_names_there_are():
    listed = ", ".join(sorted(BACKENDS))
    with pytest.raises(ValueError) as e:
        provisioner_class("zfs")
    assert str(e.value) == (
        f"unknown home provisioner 'zfs'; use one of {listed}, "
        "or a class path such as 'mypackage.homes:MyProvisioner'"
    )


@pytest.mark.parametrize(
    "path",
    [
        "jhub_kit.provision.loopfile.LoopfileProvisioner",
        "jhub_kit.provision.loopfile:LoopfileProvisioner",
    ],
    ids=["module.Class", "module:Class"],
)
def test_a_class_path_works(path):
    assert provisioner_class(path).__name__ == "LoopfileProvisioner"


@pytest.mark.parametrize(
    "path, error, words",
    [
        ("jhub_kit.provision.loopfile:Nope", ValueError, "jhub_kit.provision.loopfile has no Nope"),
        ("jhub_kit.quota.policy:Quota", ValueError, "is not a HomeProvisioner"),
        ("no_such_package.homes.Provisioner", ImportError, "no_such_package"),
    ],
    ids=["no-such-class", "not-a-provisioner", "no-such-module"],
)
def test_a_bad_class_path_says_what_is_wrong(path, error, words):
    with pytest.raises(error, match=words):
        provisioner_class(path)


def spawner_with(config: Config) -> QuotaDockerSpawner:
    return QuotaDockerSpawner(config=config, user=SimpleNamespace(name="ann", groups=[]))


def test_a_spawner_uses_a_provisioner_another_package_registers(site):
    module = install_distribution(site)
    assert registered()["marking"] == f"{module}:MarkingProvisioner"
    cls = provisioner_class("marking")
    assert cls.__module__ == module and issubclass(cls, DirectoryProvisioner)

    c = Config()
    c.QuotaDockerSpawner.home_provisioner = "marking"
    c.MarkingProvisioner.uid = 4242  # the class's own config section applies
    c.MarkingProvisioner.base_dir = "/srv/marked"
    sp = spawner_with(c)
    assert sp.home_owner() == (4242, 100)
    prov = make_provisioner(sp.home_provisioner, config=c)
    assert type(prov) is cls and prov.base_dir == "/srv/marked"
    assert pre_spawn_hook("marking").provisioner_class is cls  # type: ignore[attr-defined]
    # and the listing of an unknown name now has it
    with pytest.raises(
        ValueError,
        match=r"use one of btrfs, directory, docker-volume, loopfile, "
        r"lvm, marking, system-user",
    ):
        provisioner_class("zfs")


def test_a_name_two_packages_register_is_refused(site):
    first = install_distribution(site, short_name="shared-name", dist="homes-one")
    install_distribution(site, short_name="shared-name", dist="homes-two")
    with pytest.raises(ValueError) as e:
        provisioner_class("shared-name")
    assert "home provisioner 'shared-name' is registered by homes-one" in str(e.value)
    assert "and by homes-two" in str(e.value) and "name the class path instead" in str(e.value)
    # the class path still reaches either one
    assert provisioner_class(f"{first}:MarkingProvisioner").__module__ == first


def test_another_package_cannot_take_a_builtin_name(site, caplog):
    module = install_distribution(
        site, dist="homes-grabby", entry_points={"directory": "x_y:MarkingProvisioner"}
    )
    with caplog.at_level(logging.WARNING, logger="jhub_kit.provision"):
        assert provisioner_class("directory") is DirectoryProvisioner
        assert provisioner_class("directory") is DirectoryProvisioner
    warned = [r.getMessage() for r in caplog.records if "homes-grabby" in r.getMessage()]
    assert len(warned) == 1 and "the name is the kit's own" in warned[0]  # once, not per call
    assert provisioner_class("marking").__module__ == module  # its own name works

"""QuotaDockerSpawner in DockerSpawner's place (pure, no engine): DockerSpawner's
contract where its own tests check it, and the kit's deliberate differences, each
tested here (docs/reference/dropin.md; tests/system/test_conformance.py runs
DockerSpawner's own suite against the kit)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from jhub_kit import QuotaDockerSpawner
from jhub_kit.quota.policy import Quota


def user(name="alice", groups=()):
    return SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups])


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1G", 1024**3),
        (None, None),
        (lambda s: "2G", 2 * 1024**3),
        (lambda s: {"alice": "4G"}.get(s.user.name, "1G"), 4 * 1024**3),
    ],
    ids=["plain", "none", "callable", "callable-per-user"],
)
def test_a_callable_limit_reads_as_its_value(value, expected):
    """As DockerSpawner and JupyterHub: hooks, templates and extensions read a number."""
    assert QuotaDockerSpawner(user=user(), mem_limit=value).mem_limit == expected


def test_a_callable_is_called_again_at_every_spawn():
    calls = []

    def limit(spawner):
        calls.append(spawner.user.name)
        return f"{len(calls)}G"

    s = QuotaDockerSpawner(user=user(), mem_limit=limit)
    assert s.mem_limit == 1024**3  # called once when set, as DockerSpawner does
    first = asyncio.run(s.resolve_quota())
    second = asyncio.run(s.resolve_quota())
    assert (first.mem_limit, second.mem_limit) == (2 * 1024**3, 3 * 1024**3)
    assert calls == ["alice"] * 3


def test_an_async_callable_is_resolved_at_spawn_and_reads_none_before():
    async def limit(spawner):
        return "3G"

    s = QuotaDockerSpawner(user=user(), mem_limit=limit)
    assert s.mem_limit is None
    assert asyncio.run(s.resolve_quota()).mem_limit == 3 * 1024**3


def test_after_a_spawn_the_traits_read_as_the_quota_the_server_got():
    c = Config()
    c.QuotaDockerSpawner.mem_limit = "1G"
    c.QuotaDockerSpawner.quota_groups = {"teachers": {"mem_limit": "4G", "cpu_limit": 2}}
    s = QuotaDockerSpawner(config=c, user=user(groups=("teachers",)))
    quota = asyncio.run(s.resolve_quota())
    s.show_quota(quota)
    assert (s.mem_limit, s.cpu_limit) == (4 * 1024**3, 2)
    # the configured default is still the default: the next resolution starts from it
    s.user = user(groups=())
    assert asyncio.run(s.resolve_quota()).mem_limit == 1024**3


def test_deliberate_the_deprecation_warning_names_the_kits_class(caplog):
    """DockerSpawner's test expects "DockerSpawner.image_whitelist is deprecated";
    the kit's class reads the setting and the warning names it. The old name applies."""
    cfg = Config()
    cfg.DockerSpawner.image_whitelist = {"1.0": "jupyterhub/singleuser:1.0"}
    log = logging.getLogger("testlog")
    s = QuotaDockerSpawner(config=cfg, log=log)
    assert s.allowed_images == {"1.0": "jupyterhub/singleuser:1.0"}
    assert caplog.record_tuples == [
        (
            "testlog",
            logging.WARNING,
            "QuotaDockerSpawner.image_whitelist is deprecated in DockerSpawner 12.0, use "
            "QuotaDockerSpawner.allowed_images instead",
        )
    ]


def test_quota_state_round_trip_for_views():
    s = QuotaDockerSpawner(user=user())
    s.quota = Quota(mem_limit=2**30)
    s.object_id = "abc"
    s.server_started()
    kit = s.get_state()["jhub_kit"]
    assert kit["quota"]["mem_limit"] == 2**30 and kit["schema"] == 1
    t = QuotaDockerSpawner(user=user())
    t.load_state(s.get_state())
    assert t.quota == s.quota and t.running_record()


def test_a_newer_state_is_refused_in_words(caplog):
    s = QuotaDockerSpawner(user=user())
    with caplog.at_level(logging.ERROR):
        s.load_state({"object_id": "x", "jhub_kit": {"schema": 99, "quota": {"mem_limit": 1}}})
    assert s.quota is None
    assert "written by a newer jhub_kit (schema 99" in caplog.text


def test_a_kit_state_that_is_not_a_mapping_reads_as_none():
    """``state["jhub_kit"]`` the kit did not write (not a mapping) is no record: the
    server is still adopted, with nothing of the kit's."""
    s = QuotaDockerSpawner(user=user())
    s.load_state({"object_id": "x", "jhub_kit": "?"})
    assert s.quota is None and s.oom_kills == 0 and s.running_record()

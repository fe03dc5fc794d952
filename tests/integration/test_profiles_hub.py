"""Profiles on a real hub and engine: the spawn page offers a user only the profiles
their groups allow, within their ceiling, with the limits written out; the REST API
answers 400 in words to an unknown profile, one of another group or one over the
ceiling, and nothing starts; a chosen profile gives its image and limits."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    ensure_user,
    form_login,
    kit_config,
    running_hub,
    spawn_request,
    stop_server,
)
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join

pytestmark = [pytest.mark.docker, pytest.mark.hub]

M = 1024**2


async def start_with(app, name: str, options: dict):
    """Start ``name``'s server with these user_options and wait until it is ready."""
    r = await spawn_request(app, name, json=options)
    assert r.status_code in (201, 202), (r.status_code, r.text)
    user = app.users[name]
    while user.spawner.pending:
        await asyncio.sleep(0.2)
    assert user.running, f"{name}'s server is not running"
    return user


def profiles(other_image: str) -> list[dict]:
    return [
        {"display_name": "Python", "slug": "python", "default": True, "mem_limit": "300M"},
        {
            "display_name": "Other image",
            "slug": "other",
            "image": other_image,
            "mem_limit": "400M",
            "description": "the course's second image",
        },
        {
            "display_name": "Project",
            "slug": "project",
            "mem_limit": "600M",
            "pids_limit": 500,
            "allowed_groups": ["teachers"],
        },
    ]


async def test_profiles_form_refusals_and_starts(docker_client, test_image):
    other = f"{TEST_PREFIX}-other:latest"
    docker_client.images.get(test_image).tag(f"{TEST_PREFIX}-other", "latest")
    c = kit_config(
        test_image,
        profile_list=profiles(other),
        quota_ceiling={"mem_limit": "500M"},
        quota_ceiling_groups={"teachers": {"mem_limit": "1G"}},
    )
    async with running_hub(c) as app:
        ensure_user(app, "ann")
        ensure_user(app, "tom", groups=("teachers",))

        # the spawn page: ann sees two profiles with their limits, not the teachers'
        r, session = await form_login(app, "ann", "ann")
        page = await session.get(url_path_join(public_url(app), "hub/spawn"))
        assert page.status_code == 200
        assert 'data-profile="python"' in page.text and "memory 300M" in page.text
        assert 'data-profile="other"' in page.text and "the course&#x27;s second image" in page.text
        assert 'data-profile="project"' not in page.text

        # refusals: 400 in words, nothing starts
        for who, asked, words in (
            ("ann", "nope", "There is no profile 'nope'"),
            ("ann", "project", "for the group(s) teachers"),
        ):
            r = await spawn_request(app, who, json={"profile": asked})
            assert r.status_code == 400, (r.status_code, r.text)
            assert words in r.json()["message"], r.text
            assert not app.users[who].running
            assert not docker_client.containers.list(
                all=True, filters={"name": f"{TEST_PREFIX}-{who}"}
            )

        # user_options may lower, never raise (issue 37): a guarantee nobody set, or a
        # limit above the profile's, is a 400 in words and nothing starts
        for options, words in (
            (
                {"profile": "python", "mem_guarantee": "250M", "cpu_guarantee": 2},
                "You asked for a memory guarantee (mem_guarantee = 250M), but none is set",
            ),
            (
                {"profile": "python", "mem_limit": "400M"},
                "You asked for mem_limit = 400M, above the most you may have (300M)",
            ),
        ):
            r = await spawn_request(app, "ann", json=options)
            assert r.status_code == 400, (r.status_code, r.text)
            assert r.json()["message"].startswith(words), r.text
            while app.users["ann"].spawner.pending:
                await asyncio.sleep(0.1)
            assert not app.users["ann"].running
            assert not docker_client.containers.list(
                all=True, filters={"name": f"{TEST_PREFIX}-ann"}
            )

        # a teacher's profile within the teachers' ceiling
        await start_with(app, "tom", {"profile": "project"})
        info = docker_client.api.inspect_container(f"{TEST_PREFIX}-tom")
        assert info["HostConfig"]["Memory"] == 600 * M
        assert info["HostConfig"]["PidsLimit"] == 500
        state = app.users["tom"].spawner.get_state()
        assert state["jhub_kit"]["profile"] == {"slug": "project", "name": "Project"}
        await stop_server(app, "tom")

        # the profile's image, and the default profile when none is asked for
        await start_with(app, "ann", {"profile": "other"})
        info = docker_client.api.inspect_container(f"{TEST_PREFIX}-ann")
        assert info["Config"]["Image"] == other
        assert info["HostConfig"]["Memory"] == 400 * M
        await stop_server(app, "ann")
        user = await start_with(app, "ann", {"profile": "python"})
        info = docker_client.api.inspect_container(f"{TEST_PREFIX}-ann")
        assert info["Config"]["Image"] == test_image  # the other profile's image undone
        assert info["HostConfig"]["Memory"] == 300 * M
        assert user.spawner.profile_label["slug"] == "python"
        await stop_server(app, "ann")
        # no choice at all (an empty request): the default profile
        ensure_user(app, "bea")
        r = await spawn_request(app, "bea")
        assert r.status_code in (201, 202), r.text
        while app.users["bea"].spawner.pending:
            await asyncio.sleep(0.2)
        assert app.users["bea"].spawner.profile_label["slug"] == "python"
        info = docker_client.api.inspect_container(f"{TEST_PREFIX}-bea")
        assert info["HostConfig"]["Memory"] == 300 * M
        await stop_server(app, "bea")

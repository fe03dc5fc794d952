"""The kit's metrics on a real hub: scraped from JupyterHub's own /hub/metrics (its
registry and authentication) around a pooled start, a cold start with the pool
empty, and a refused profile, and checked against what happened."""

from __future__ import annotations

import asyncio

import pytest
from hubutil import (
    ensure_user,
    in_client_thread,
    kit_config,
    running_hub,
    spawn_request,
    start_server,
    stop_server,
)
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


async def scrape(app) -> dict[tuple[str, tuple], float]:
    import requests

    url = url_path_join(public_url(app), "hub/metrics")
    r = await in_client_thread(requests.get, url, headers=auth_header(app.db, "admin"), timeout=30)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_follow_a_pooled_a_cold_and_a_refused_start(
    docker_client, test_image, mount_area
):
    c = kit_config(
        test_image,
        pool_size=1,
        mem_limit="300M",
        profile_list=[{"display_name": "Python", "slug": "python", "default": True}],
    )
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")  # its mounts undone after
    async with running_hub(c) as app:
        for name in ("ann", "bob", "cy"):
            ensure_user(app, name)
        pool = app.users["ann"].spawner.warm_pool()
        for _ in range(600):
            if len(pool.ready) == 1:
                break
            await asyncio.sleep(0.2)
        before = await scrape(app)
        assert value(before, "jhub_kit_pool_ready") == 1
        assert value(before, "jhub_kit_start_queue_length") == 0

        ann = await start_server(app, "ann")  # the member
        assert ann.spawner.pool_member
        bob = await start_server(app, "bob")  # the pool is empty (it refills when quiet)
        assert not bob.spawner.pool_member
        r = await spawn_request(app, "cy", json={"profile": "gpu"})
        assert r.status_code == 400, r.text
        after = await scrape(app)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("jhub_kit_pool_given_total") == 1
        assert delta("jhub_kit_pool_cold_starts_total", reason="empty") == 1
        assert delta("jhub_kit_start_queue_wait_seconds_count") == 1  # bob's cold start
        assert delta("jhub_kit_start_refusals_total", reason="profile") == 1
        assert value(after, "jhub_kit_pool_ready") == len(pool.ready)
        await stop_server(app, "ann")
        await stop_server(app, "bob")


async def test_metrics_scraped_during_a_rush_show_the_queue(docker_client, test_image):
    """Three starts at once through a start queue of one place: scraped while they
    run, the queue's length shows students waiting; after, the wait histogram
    counts every start, and those who waited add their seconds to it."""
    c = kit_config(test_image, mem_limit="300M", concurrent_starts=1)
    names = ("rush1", "rush2", "rush3")
    async with running_hub(c) as app:
        for name in names:
            ensure_user(app, name)
        before = await scrape(app)
        lengths = []

        async def watch():
            while True:
                lengths.append(value(await scrape(app), "jhub_kit_start_queue_length"))
                await asyncio.sleep(0.2)

        watcher = asyncio.create_task(watch())
        try:
            users = await asyncio.gather(*(start_server(app, name) for name in names))
        finally:
            watcher.cancel()
        assert all(u.running for u in users)
        after = await scrape(app)
        assert max(lengths) >= 1, lengths  # seen waiting, while it happened
        assert value(after, "jhub_kit_start_queue_length") == 0
        count = "jhub_kit_start_queue_wait_seconds_count"
        waited = "jhub_kit_start_queue_wait_seconds_sum"
        assert value(after, count) - value(before, count) == 3
        assert value(after, waited) - value(before, waited) > 1.0  # two waited a start each
        for name in names:
            await stop_server(app, name)

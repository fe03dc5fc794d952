"""``jhub-kit doctor``: check what a hub on this host needs, and say what to fix."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any

import click

from .. import resolve
from ..auth.userlist import UserlistError, UserlistFile
from ..hubapi import HubAPI, HubAPIError, read_token
from ..provision import ProvisionError, commands
from ..provision.mounts import loop_devices, mounted_at
from .common import config_option, load_config
from .home_cmds import provisioner_for

Check = tuple[bool, str, str]  # ok, what was found, how to fix


def run(*argv: str, timeout: float = 30) -> commands.Result:
    """A program's result, through the kit's one runner (argv only, with a time-out)."""
    try:
        return asyncio.run(commands.run(*argv, timeout=timeout, check=False))
    except commands.CommandError as e:  # not installed, or timed out
        return commands.Result(list(argv), 127, "", str(e))


def check_engine() -> Check:
    try:
        import docker

        v = docker.from_env(timeout=10).version()
        return True, f"Docker engine {v.get('Version')} answers", ""
    except Exception as e:
        return (
            False,
            f"no Docker engine answers ({e})",
            ("install docker.io and start it: apt-get install docker.io && systemctl start docker"),
        )


def check_image(image: str) -> Check:
    try:
        import docker

        docker.from_env(timeout=10).images.get(image)
        return True, f"image {image} is present", ""
    except Exception:
        return False, f"image {image} is not on this host", f"docker pull {image} (before class)"


def check_proxy() -> Check:
    path = shutil.which("configurable-http-proxy")
    if not path:
        return (
            False,
            "configurable-http-proxy is not on PATH",
            ("npm install -g configurable-http-proxy"),
        )
    r = run(path, "--version")
    if r.returncode != 0:
        return (
            False,
            f"configurable-http-proxy does not run: {r.stderr.strip()[:200]}",
            ("reinstall it with npm for this node: npm install -g configurable-http-proxy"),
        )
    return True, f"configurable-http-proxy {r.stdout.strip()}", ""


def check_token(hub_url: str, token_file: str | None) -> Check:
    try:
        api = HubAPI(hub_url, read_token(token_file))
        api.require("admin:users", "admin:groups", "list:users", "read:servers")
        return True, f"hub API at {hub_url} answers; the token can manage users and groups", ""
    except HubAPIError as e:
        return False, str(e), "use an admin's token (hub Token page) in JUPYTERHUB_API_TOKEN"


def check_network(spawner: Any, c: Any) -> Check:
    from ..config_check import Report, _check_spawner

    report = Report()
    _check_spawner(spawner, c, report)
    bad = [e for e in report.errors if "hub_ip" in e]
    if bad:
        return False, bad[0], "set c.JupyterHub.hub_ip = '0.0.0.0' or use network_name = 'host'"
    return True, f"containers on network {spawner.network_name!r} can reach the hub", ""


def check_isolation(spawner: Any, c: Any) -> Check:
    """Servers on a user-defined bridge network are isolated (jhub_kit.network.firewall)."""
    from ..network import firewall

    name = spawner.network_name
    if not getattr(spawner, "network_isolation", False) or name in ("host", "none", "bridge"):
        return True, f"network isolation not applicable (network {name!r})", ""
    try:
        import docker

        info = docker.from_env(timeout=10).api.inspect_network(name)
    except Exception as e:
        return False, f"network {name!r} cannot be inspected ({e})", f"docker network create {name}"
    hub_port = int(c.JupyterHub.get("hub_port", 8081)) if "JupyterHub" in c else 8081
    iso = firewall.Isolation(
        firewall.bridge_of(info), (hub_port,), tuple(spawner.network_isolation_allow)
    )
    try:
        ok = asyncio.run(firewall.present(iso))
    except commands.CommandError as e:
        ok, why = False, str(e)
    else:
        why = "its iptables rules are not in place"
    if ok:
        return True, f"servers on {name!r} are isolated ({firewall.describe(iso)})", ""
    return (
        False,
        f"servers on {name!r} are not isolated: {why} (the hub sets them up at the first "
        "spawn when it runs as root on the Docker host)",
        "as root on the Docker host: `jhub-kit firewall watch --network "
        f"{name} --hub-container NAME` (a hub in a container), or these rules (a hub on "
        "the host):\n       " + "\n       ".join(firewall.commands_for(iso)),
    )


def check_homes(c: Any) -> Check:
    try:
        prov = provisioner_for(c)
    except click.ClickException:
        return True, "no home provisioner configured", ""
    backend = prov.backend
    base = prov.base_dir
    if backend == "docker-volume":
        return True, "homes are Docker volumes", ""
    target = base if os.path.isdir(base) else os.path.dirname(base.rstrip("/")) or "/"
    st = os.statvfs(target)
    free = st.f_bavail * st.f_frsize
    if free < 1024**3:
        return False, f"only {free // 1024**2} MiB free at {target}", "free space or move base_dir"
    if backend in ("loopfile", "btrfs"):
        problem = loop_problem()
        if problem:
            return (
                False,
                problem,
                (
                    "detach unused ones (losetup -a; losetup -d /dev/loopN); for a hub in a "
                    "container, mount the host's /dev into it (-v /dev:/dev)"
                ),
            )
    if backend == "lvm":
        vg = prov.volume_group  # type: ignore[attr-defined]
        r = run("vgs", "--noheadings", "-o", "vg_free", vg)
        if r.returncode != 0:
            return False, f"volume group {vg!r} not found", f"vgcreate {vg} /dev/YOUR_DISK"
    if backend == "btrfs" and not shutil.which("mkfs.btrfs"):
        return False, "btrfs-progs is not installed", "apt-get install btrfs-progs"
    return True, f"{backend} homes in {base}: {free // 1024**3} GiB free", ""


def check_swarm_nodes(spawner: Any, c: Any) -> list[Check]:
    """From every node of the swarm: the image, and the homes' share (one task each)."""
    from ..spawners.swarm_doctor import check_nodes

    try:
        info = spawner.client.info()
    except Exception as e:
        return [(False, f"no swarm manager answers ({e})", "check client_kwargs / DOCKER_HOST")]
    if not info.get("Swarm", {}).get("ControlAvailable"):
        return [
            (
                False,
                "the engine the spawner talks to is not a swarm manager",
                "point c.QuotaSwarmSpawner.client_kwargs at a manager (docker swarm init)",
            )
        ]
    share = None
    try:
        prov = provisioner_for(c)
        if prov.backend != "docker-volume":
            share = prov.base_dir
            os.makedirs(share, exist_ok=True)
    except click.ClickException:
        pass
    nodes = info["Swarm"].get("Nodes", "?")
    results = check_nodes(spawner.client, spawner.image, share)
    return [
        (True, f"swarm manager answers: {nodes} nodes", ""),
        check_swarm_security(spawner, info),
    ] + [(r.ok, r.found, r.fix) for r in results]


def check_swarm_security(spawner: Any, info: dict[str, Any]) -> Check:
    """Whether the servers' services get no-new-privileges (Engine API 1.44 on), or
    the manager's daemon sets it for every container."""
    from ..spec import NO_NEW_PRIVILEGES_API, service_security

    if not spawner.no_new_privileges:
        return (True, "no-new-privileges off (c.QuotaSwarmSpawner.no_new_privileges)", "")
    api = str(spawner.client.api_version)
    if not service_security({"security_opt": ["no-new-privileges:true"]}, api)[1]:
        return (True, f"no-new-privileges set on each server's service (Engine API {api})", "")
    if any("no-new-privileges" in o for o in info.get("SecurityOptions") or []):
        return (
            True,
            f"no-new-privileges: set by the manager's daemon (a service takes it from "
            f"Engine API {NO_NEW_PRIVILEGES_API}, this is {api}); the other nodes' "
            "daemon.json must say so too",
            "",
        )
    return (
        False,
        f"servers start without no-new-privileges: a service takes it from Engine API "
        f"{NO_NEW_PRIVILEGES_API} (Docker 25), this swarm's is {api}",
        'set "no-new-privileges": true in /etc/docker/daemon.json on every node, or '
        "upgrade the engines, or accept it: c.QuotaSwarmSpawner.no_new_privileges = False",
    )


def check_home_records(c: Any) -> Check:
    """Every home the provisioner's state lists is there (a missing one is refused at spawn)."""
    try:
        prov = provisioner_for(c)
    except click.ClickException:
        return True, "no home provisioner configured", ""

    async def problems() -> tuple[int, list[str]]:
        users = await prov.users()
        found = [await prov.check(u) for u in users]
        return len(users), [p for p in found if p]

    try:
        count, bad = asyncio.run(problems())
    except ProvisionError as e:
        return False, f"home state refused: {e}", "mount the homes' disk, or restore the state"
    if bad:
        return (
            False,
            f"{len(bad)} of {count} home(s) unavailable:\n     " + "\n     ".join(bad),
            "bring each back (mount its disk), or `jhub-kit home restore NAME ARCHIVE`, "
            "or `jhub-kit home reset NAME`",
        )
    return True, f"all {count} home(s) the state lists are there", ""


def check_userlist(c: Any) -> Check:
    path = c.UserlistMixin.get("userlist_file") if "UserlistMixin" in c else None
    if not path:
        return True, "no userlist configured", ""
    try:
        ul = UserlistFile(path).load()
    except UserlistError as e:
        return (
            False,
            f"userlist unusable: {str(e).splitlines()[0]}",
            "fix it; check with jhub-kit userlist check",
        )
    if not ul.admins:
        return False, f"userlist {path} names no admin", "add 'NAME admin' to it"
    return True, f"userlist {path}: {len(ul.users)} users, {len(ul.admins)} admins", ""


@click.command("doctor")
@config_option()
@click.option("--hub-url", envvar="JUPYTERHUB_URL", help="Also check the running hub's API.")
@click.option("--token-file", type=click.Path(dir_okay=False), help="API token file.")
def doctor_cmd(config_file: str, hub_url: str | None, token_file: str | None) -> None:
    """Check the engine, image, proxy, network, homes, userlist (and the hub API)."""
    c = load_config(config_file)
    spawner = resolve.configured_spawner(c)
    checks: list[Callable[[], Check | list[Check]]]
    from ..spawners.swarm import QuotaSwarmSpawner

    if isinstance(spawner, QuotaSwarmSpawner):
        checks = [
            lambda: check_swarm_nodes(spawner, c),
            check_proxy,
            lambda: check_homes(c),
            lambda: check_home_records(c),
            lambda: check_userlist(c),
        ]
    else:
        checks = [
            check_engine,
            lambda: check_image(spawner.image),
            check_proxy,
            lambda: check_network(spawner, c),
            lambda: check_isolation(spawner, c),
            lambda: check_homes(c),
            lambda: check_home_records(c),
            lambda: check_userlist(c),
        ]
    if hub_url:
        checks.append(lambda: check_token(hub_url, token_file))
    failed = 0
    for check in checks:
        result = check()
        for ok, found, fix in result if isinstance(result, list) else [result]:
            click.echo(f"{'ok  ' if ok else 'FAIL'} {found}")
            if not ok:
                failed += 1
                click.echo(f"     fix: {fix}")
    if failed:
        click.echo(f"{failed} problem(s) found", err=True)
        sys.exit(1)


def loop_problem() -> str | None:
    """Why no loop device could be had for the next home, or None.

    With every visible device attached, the kernel adds one through
    /dev/loop-control, but it only appears where /dev is the host's devtmpfs
    (a container's /dev is a copy made when it started).
    """
    devs = loop_devices()
    if len(devs.visible) > len(devs.busy):
        return None
    dev = mounted_at("/dev")
    fstype = dev.fstype if dev else "not a mount"
    if devs.control and fstype == "devtmpfs":
        return None
    return f"no free loop device: {len(devs.busy)} of {len(devs.visible)} in use, " + (
        "and /dev/loop-control is missing" if not devs.control else f"and /dev is {fstype}"
    )

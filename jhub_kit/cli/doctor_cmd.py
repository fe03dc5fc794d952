"""``jhub-kit doctor``: check what a hub on this host needs, and say what to fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import click

from ..hubapi import HubAPI, HubAPIError, read_token
from ..userlist import UserlistError, UserlistFile
from .common import config_option, load_config
from .home_cmds import provisioner_for, spawner_for

Check = tuple[bool, str, str]  # ok, what was found, how to fix


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
    r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
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
    if backend == "loopfile":
        r = subprocess.run(["losetup", "-f"], capture_output=True, text=True)
        if r.returncode != 0:
            return False, f"no free loop device: {r.stderr.strip()}", "run as root; modprobe loop"
    if backend == "lvm":
        vg = prov.volume_group  # type: ignore[attr-defined]
        r = subprocess.run(
            ["vgs", "--noheadings", "-o", "vg_free", vg], capture_output=True, text=True
        )
        if r.returncode != 0:
            return False, f"volume group {vg!r} not found", f"vgcreate {vg} /dev/YOUR_DISK"
    if backend == "btrfs" and not shutil.which("mkfs.btrfs"):
        return False, "btrfs-progs is not installed", "apt-get install btrfs-progs"
    return True, f"{backend} homes in {base}: {free // 1024**3} GiB free", ""


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
    spawner = spawner_for(c)
    checks: list[Callable[[], Check]] = [
        check_engine,
        lambda: check_image(spawner.image),
        check_proxy,
        lambda: check_network(spawner, c),
        lambda: check_homes(c),
        lambda: check_userlist(c),
    ]
    if hub_url:
        checks.append(lambda: check_token(hub_url, token_file))
    failed = 0
    for check in checks:
        ok, found, fix = check()
        click.echo(f"{'ok  ' if ok else 'FAIL'} {found}")
        if not ok:
            failed += 1
            click.echo(f"     fix: {fix}")
    if failed:
        click.echo(f"{failed} problem(s) found", err=True)
        sys.exit(1)

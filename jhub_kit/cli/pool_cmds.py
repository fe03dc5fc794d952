"""``jhub-kit pool``: the warm pool, seen and filled from the hub's host before class."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import click

from ..pool import schedule
from .common import config_option, load_config

DEFAULT_POOL_DIR = "/run/jhub-kit/pool"
STALE_AFTER = 30.0  # the hub writes its status every 2 s


@click.group("pool")
def pool_group() -> None:
    """See and fill the warm pool (c.QuotaDockerSpawner.pool_size, pool_schedule).

    Run on the hub's host: the hub and these commands share the pool's
    directory (c.QuotaDockerSpawner.pool_dir).
    """


def _pool_dir_options(f: Any) -> Any:
    f = config_option("optional")(f)
    return click.option(
        "--pool-dir",
        type=click.Path(file_okay=False),
        help=f"The pool's directory (default: the config's pool_dir, else {DEFAULT_POOL_DIR}).",
    )(f)


def _pool_dir(pool_dir: str | None, config_file: str | None) -> Path:
    if pool_dir:
        return Path(pool_dir)
    if config_file:
        section = load_config(config_file).get("QuotaDockerSpawner", {})
        if "pool_dir" in section:
            return Path(section["pool_dir"])
    return Path(DEFAULT_POOL_DIR)


def _no_pool(base: Path) -> click.ClickException:
    return click.ClickException(
        f"No warm pool in {base}: the hub has not started one there. Set "
        "c.QuotaDockerSpawner.pool_size, pool_schedule or a profile's pool_size, and run "
        "this on the hub's host "
        "(with --pool-dir or -f if the config sets pool_dir)."
    )


def _status(base: Path) -> tuple[dict[str, Any], float]:
    """The hub's status and its age in seconds; an error if there is none."""
    status = schedule.read_status(base)
    if status is None:
        raise _no_pool(base)
    return status, max(0.0, time.time() - float(status.get("updated", 0)))


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%a %H:%M")


@pool_group.command("status")
@_pool_dir_options
@click.option("--json", "as_json", is_flag=True, help="Print the hub's status as JSON.")
def status_cmd(pool_dir: str | None, config_file: str | None, as_json: bool) -> None:
    """How many servers are warm, the target and why. Exit 1 if the hub is not keeping it."""
    base = _pool_dir(pool_dir, config_file)
    status, age = _status(base)
    request = schedule.read_request(base)
    if as_json:
        click.echo(json.dumps({**status, "age_s": round(age, 1)}, indent=1))
    else:
        click.echo(f"Warm pool in {base} (hub pid {status.get('pid')}, updated {age:.0f} s ago)")
        kinds = status.get("kinds") or {}
        why = "by kind below" if kinds else status["why"]
        click.echo(f"  ready      {status['ready']} of {status['target']}  ({why})")
        for label, k in kinds.items():  # the configuration's (""), then each profile's
            click.echo(
                f"    {label or '(default)':<12} {k['ready']} of {k['target']} ready, "
                f"{k['starting']} starting  ({k['why']})"
            )
        click.echo(f"  starting   {status['starting']}")
        click.echo(f"  given out  {status['assigned']} since the hub started")
        click.echo(f"  pool_size  {status['size']}")
        for text in status.get("schedule") or []:
            click.echo(f"  schedule   {text}")
        if request is not None and request.active(time.time()):
            click.echo(f"  request    {request.size} until {_when(request.until)}")
        ages = [m["age_s"] for m in status.get("members", [])]
        if ages:
            click.echo(f"  members    oldest {max(ages) / 60:.0f} min, newest {min(ages)} s")
    if age > STALE_AFTER:
        raise click.ClickException(
            f"the hub has not updated the pool's status for {age:.0f} s: is it running?"
        )


@pool_group.command("fill")
@click.argument("size", type=click.IntRange(min=0))
@click.option(
    "--for",
    "duration",
    default="2h",
    show_default=True,
    help="How long to keep that many (e.g. 90m, 2h, 1h30m); the pool then shrinks back.",
)
@click.option("--wait", is_flag=True, help="Wait until SIZE servers are ready, showing progress.")
@click.option("--timeout", default=900, show_default=True, help="Seconds --wait waits at most.")
@_pool_dir_options
def fill_cmd(
    size: int,
    duration: str,
    wait: bool,
    timeout: int,
    pool_dir: str | None,
    config_file: str | None,
) -> None:
    """Keep SIZE servers warm for a while, e.g. before a class that is not in the
    schedule. 0 withdraws the request. Filling takes turns with students' starts."""
    base = _pool_dir(pool_dir, config_file)
    if not base.is_dir():
        raise _no_pool(base)
    try:
        seconds = schedule.parse_duration(duration)
    except schedule.ScheduleError as e:
        raise click.BadParameter(str(e), param_hint="--for") from None
    request = schedule.FillRequest(size, time.time() + seconds) if size else None
    try:
        schedule.write_request(base, request)
    except PermissionError:
        raise click.ClickException(
            f"cannot write in {base}: run as root (the pool's directory is root's)"
        ) from None
    if request is None:
        click.echo("Fill request withdrawn: the pool goes back to pool_size and the schedule.")
        return
    until = _when(request.until)
    cap, where = _fill_cap(base, config_file)
    if cap and size > cap:
        click.echo(
            f"Asked the hub to keep {size} servers warm until {until}, but it keeps at most "
            f"{cap} ({where}): the request is capped, {cap} servers will be warm."
        )
        size = cap
    else:
        click.echo(f"Asked the hub to keep {size} servers warm until {until}.")
    if wait:
        _wait_for(base, size, timeout)


def _fill_cap(base: Path, config_file: str | None) -> tuple[int, str]:
    """The most a fill request gets (0: no cap) and where that was read: the running
    hub's status, else the config file, else the option's default."""
    status = schedule.read_status(base)
    if status is not None and isinstance(status.get("fill_max"), int):
        return status["fill_max"], "the hub's pool_fill_max"
    if config_file:
        section = load_config(config_file).get("QuotaDockerSpawner", {})
        if "pool_fill_max" in section:
            return int(section["pool_fill_max"]), "pool_fill_max in the config"
    from ..pool.mixin import PoolMixin

    default: int = PoolMixin.class_traits()["pool_fill_max"].default_value
    return default, "the default pool_fill_max"


def _wait_for(base: Path, size: int, timeout: int) -> None:
    t0 = time.monotonic()
    last = None
    while True:
        status, age = _status(base)
        line = (
            f"  {status['ready']} ready, {status['starting']} starting (target {status['target']})"
        )
        if line != last:
            click.echo(line)
            last = line
        if status["ready"] >= size:
            click.echo(f"{status['ready']} servers are warm ({time.monotonic() - t0:.0f} s).")
            return
        if age > STALE_AFTER:
            raise click.ClickException(f"the hub has not updated the pool's status for {age:.0f} s")
        if time.monotonic() - t0 > timeout:
            raise click.ClickException(
                f"{status['ready']} of {size} ready after {timeout} s; "
                "`jhub-kit pool status` shows the rest; the hub's log says why"
            )
        time.sleep(1)

"""``jhub-kit users import`` and ``jhub-kit users remove``."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ..auth.userlist import UserlistError, UserlistFile
from ..hubapi import HubAPIError
from ..provision import ProvisionError
from ..provision.systemuser import existing_accounts
from .common import config_option, connect, hub_options, load_config
from .csvimport import SEPARATORS, CsvError, Row, parse_csv

#: ``--delimiter`` choices: the separators, a tab as ``tab``
DELIMITERS = {("tab" if d == "\t" else d): d for d in SEPARATORS}


def _add_to_userlist(path: str, rows: list[Row]) -> int:
    """Append lines for ``rows`` not yet in the userlist; atomic; returns how many."""
    try:
        current = UserlistFile(path).load()
    except UserlistError as e:
        if not Path(path).exists():
            current = None
        else:
            raise click.ClickException(f"the userlist is broken, fix it first:\n{e}") from None
    listed = set(current.users) if current else set()
    lines = []
    for row in rows:
        if row.username in listed:
            continue
        words = [row.username, *(["admin"] if row.admin else [])]
        if row.groups:
            words.append("group:" + ",".join(row.groups))
        lines.append(" ".join(words))
    if not lines:
        return 0
    old = Path(path).read_text() if Path(path).exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".userlist-")
    with os.fdopen(fd, "w") as f:
        f.write(old + "\n".join(lines) + "\n")
    if Path(path).exists():
        os.chmod(tmp, Path(path).stat().st_mode & 0o777)
    os.replace(tmp, path)
    return len(lines)


def _check_system_accounts(names: list[str], config_file: str | None) -> None:
    """Names of this machine's system accounts: a warning; refused (nothing is done)
    where the config makes Unix accounts for users (the system-user provisioner)."""
    found = existing_accounts(names)
    if not found:
        return
    listed = ", ".join(f"{n} (uid {u})" for n, u in sorted(found.items()))
    if config_file and _makes_accounts(config_file):
        raise click.ClickException(
            f"these names are system accounts of this machine: {listed}; the config's "
            "system-user provisioner would refuse them (or, listed in adopt_accounts, give a "
            "student that account). Rename them in the CSV; nothing was imported."
        )
    click.echo(
        f"warning: these names are system accounts of this machine: {listed}. They are fine "
        "as hub users, but never give them Unix accounts (the system-user provisioner "
        "refuses them)",
        err=True,
    )


def _makes_accounts(config_file: str) -> bool:
    """Whether the config makes Unix accounts for users: the system-user provisioner
    as the spawner's ``home_provisioner`` or through ``pre_spawn_hook``."""
    from ..provision import provisioner_class
    from ..provision.systemuser import SystemUserProvisioner

    c = load_config(config_file)
    chosen = []
    for section in ("QuotaDockerSpawner", "QuotaSwarmSpawner"):
        if section in c and isinstance(c[section].get("home_provisioner"), str):
            chosen.append(c[section]["home_provisioner"])
    classes: list[Any] = []
    for name in chosen:
        try:
            classes.append(provisioner_class(name))
        except (ValueError, ImportError, AttributeError):
            continue
    hook = c.Spawner.get("pre_spawn_hook") if "Spawner" in c else None
    classes.append(getattr(hook, "provisioner_class", None))
    return any(isinstance(k, type) and issubclass(k, SystemUserProvisioner) for k in classes)


@click.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@hub_options
@click.option(
    "--userlist",
    type=click.Path(dir_okay=False),
    help="Also add the users to this userlist file (the kit's allow list).",
)
@click.option("--native-db-url", help="Set NativeAuthenticator passwords in this hub database.")
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False),
    help="With --native-db-url: write username,password lines here (mode 0600).",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate and show what would be done; change nothing."
)
@click.option(
    "--ascii-names",
    is_flag=True,
    help="Derive ASCII usernames from the name column, transliterated "
    "('Łukasz Żółć' -> lukasz.zolc, '김민수' -> gimminsu), and accept only ASCII "
    "usernames. Default: names in any script, as JupyterHub stores them "
    "('山田 太郎' -> 山田.太郎).",
)
@click.option(
    "--delimiter",
    type=click.Choice(list(DELIMITERS)),
    help="The CSV's separator. Default: detected (',' ';' tab or '|').",
)
@config_option("optional")
def import_cmd(
    csv_file: str,
    hub_url: str,
    token_file: str | None,
    userlist: str | None,
    native_db_url: str | None,
    credentials: str | None,
    dry_run: bool,
    ascii_names: bool,
    delimiter: str | None,
    config_file: str | None,
) -> None:
    """Create the users of CSV_FILE in the hub, with their groups (and passwords).

    Columns: username (or name, to derive one from), email, admin, groups, quota;
    separated by ',', ';', tabs or '|'. A username derived from a name keeps its
    script, lowercased with '.' for spaces (unless --ascii-names); two rows that
    would get the same username are refused.

    Every row is checked first; if any is bad, nothing is created. Rerunning
    after a partial failure creates only what is missing.
    """
    try:
        parsed = parse_csv(
            Path(csv_file).read_bytes(),
            source=csv_file,
            ascii_names=ascii_names,
            delimiter=DELIMITERS[delimiter] if delimiter else None,
        )
    except CsvError as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    for w in parsed.warnings:
        click.echo(f"warning: {w}", err=True)
    rows = parsed.rows
    _check_system_accounts([r.username for r in rows], config_file)
    if native_db_url and not credentials:
        raise click.UsageError("--native-db-url needs --credentials FILE for the passwords")
    if credentials and os.path.exists(credentials):
        raise click.UsageError(f"{credentials} exists; passwords are written to a new file only")
    api = connect(hub_url, token_file, "admin:users", "admin:groups")
    status: dict[str, str] = {}
    # one listing of the hub's users (a few pages) rather than a request per row
    known = {u["name"] for u in api.users()}
    existing = {r.username for r in rows if r.username in known}
    if dry_run:
        for r in rows:
            click.echo(
                f"{r.username}: {'exists' if r.username in existing else 'would be created'}"
            )
        click.echo(f"{len(rows) - len(existing)} to create, {len(existing)} existing (dry run)")
        return
    passwords: dict[str, str] = {}
    with click.progressbar(length=len(rows), label="creating users", file=sys.stderr) as bar:
        for admin in (False, True):  # one request per admin flag: a batch has one flag
            batch = [r.username for r in rows if r.admin == admin and r.username not in existing]
            for start in range(0, len(batch), 100):
                chunk = batch[start : start + 100]
                try:
                    created = set(api.create_users(chunk, admin))
                except HubAPIError as e:
                    for n in chunk:
                        status[n] = f"failed: {e}"
                    bar.update(len(chunk))
                    continue
                for n in chunk:
                    status[n] = "created" if n in created else "existed"
                bar.update(len(chunk))
        bar.update(len(existing))
    for n in existing:
        status[n] = "existed"
    groups: dict[str, list[str]] = {}
    for r in rows:
        if not status[r.username].startswith("failed"):
            for g in r.groups:
                groups.setdefault(g, []).append(r.username)
    for g, members in sorted(groups.items()):
        try:
            api.add_to_group(g, members)
        except HubAPIError as e:
            for n in members:
                status[n] = f"failed: group {g}: {e}"
    if native_db_url:
        passwords = _set_native_passwords(
            native_db_url, [n for n, s in status.items() if s == "created"]
        )
        if passwords:  # a rerun that creates nobody leaves no empty file behind
            _write_credentials(credentials or "", passwords)
    if userlist:
        ok_rows = [r for r in rows if not status[r.username].startswith("failed")]
        added = _add_to_userlist(userlist, ok_rows)
        click.echo(f"userlist {userlist}: {added} lines added")
    counts: dict[str, int] = {}
    for r in rows:
        s = status[r.username]
        click.echo(f"{r.username}: {s}")
        key = s.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    click.echo(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if passwords:
        click.echo(f"passwords of {len(passwords)} new users written to {credentials}")
    elif native_db_url:
        click.echo(f"no new users: no password set, {credentials} not written")
    if counts.get("failed"):
        sys.exit(1)


def _set_native_passwords(db_url: str, names: list[str]) -> dict[str, str]:
    from jupyterhub import orm

    from ..auth.native import set_passwords

    db = orm.new_session_factory(db_url)()
    out = {name: secrets.token_urlsafe(12) for name in names}  # 96 random bits each
    set_passwords(db, out)
    return out


def _write_credentials(path: str, passwords: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("username,password\n")
        for name, pw in sorted(passwords.items()):
            f.write(f"{name},{pw}\n")


@click.command("remove")
@click.argument("username")
@hub_options
@click.option("--forever", is_flag=True, help="Also archive, then remove, the user's home.")
@config_option("optional")
@click.option(
    "--archive-dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where --forever puts the home's archive.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_cmd(
    username: str,
    hub_url: str,
    token_file: str | None,
    forever: bool,
    config_file: str | None,
    archive_dir: str,
    yes: bool,
) -> None:
    """Delete USERNAME from the hub (stopping their server); --forever removes the home too."""
    name = username.lower()
    if forever and not config_file:
        raise click.UsageError("--forever needs -f jupyterhub_config.py to find the homes")
    api = connect(hub_url, token_file, "admin:users")
    if forever and not yes:
        click.confirm(f"Delete {name} and archive then remove their home?", abort=True)
    api.delete_user(name)
    click.echo(f"deleted {name} from the hub")
    if forever:
        from .common import load_config
        from .home_cmds import provisioner_for

        prov = provisioner_for(load_config(config_file or ""))

        async def remove_homes() -> None:
            for key in await prov.homes_of(name):  # theirs, and their named servers'
                archive = await prov.deprovision(key, archive_dir)
                if archive is None:
                    click.echo(f"{key} had no home")
                else:
                    click.echo(f"home of {key} archived to {archive} and removed")

        try:
            asyncio.run(remove_homes())
        except ProvisionError as e:
            raise click.ClickException(f"{name} was deleted from the hub, but: {e}") from None

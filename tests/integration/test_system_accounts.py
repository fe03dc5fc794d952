"""The system-user provisioner with names a stranger chose (seed 000's sign-up):
it makes accounts, and uses only those it made. ``root``, ``bin``, ``daemon``,
``nobody`` and a service account made here are refused; their homes survive
every command (provision, remove, reset, restore); ``users import`` warns about
such names, and refuses them where the config makes accounts."""

from __future__ import annotations

import os
import pwd
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from jhub_kit.provision import ProvisionError, provisioner_class
from jhub_kit.provision.systemuser import existing_accounts, login_defs_uid_min
from jhub_kit.quota.policy import Quota

pytestmark = [pytest.mark.root]


@pytest.fixture
def service_account(tmp_path, as_root):
    """A system account of the test's own, with a service's file in its home."""
    name = f"jks{uuid.uuid4().hex[:6]}"
    home = tmp_path / "svc-home"
    subprocess.run(
        ["useradd", "--system", "--create-home", "--home-dir", str(home), "--", name],
        check=True,
        capture_output=True,
    )
    (home / "service.db").write_text("the service's data\n")
    try:
        yield name, home
    finally:
        subprocess.run(["userdel", "--", name], check=False, capture_output=True)


def make(base: Path, **kw):
    base.mkdir(exist_ok=True)
    cls = provisioner_class("system-user")
    return cls(base_dir=str(base), **kw)


def homes_of(names: list[str]) -> dict[str, list[str]]:
    """What each account's home holds (accounts whose home is not a directory: none)."""
    out = {}
    for n in names:
        home = pwd.getpwnam(n).pw_dir
        out[n] = sorted(os.listdir(home)) if os.path.isdir(home) else []
    return out


@pytest.mark.parametrize("name", ["root", "bin", "daemon", "nobody", "SERVICE"])
async def test_an_existing_account_is_never_given_to_a_student(
    name, tmp_path, service_account, as_root
):
    if name == "SERVICE":
        name = service_account[0]
    base = tmp_path / "homes"
    before = homes_of([name])
    p = make(base)
    with pytest.raises(ProvisionError, match="that the kit did not make"):
        await p.provision(name, Quota())
    assert p.state.get(name) is None
    # a list of "any existing login account" does not reach the system's
    with pytest.raises(ProvisionError, match="is a system account"):
        await make(base, adopt_accounts=["*"]).provision(name, Quota())
    # a record that says otherwise (an older kit adopted it): nothing is removed
    home = pwd.getpwnam(name).pw_dir
    p.state.put(name, {"name": name, "user": name, "home": home, "status": "ready"})
    with pytest.raises(ProvisionError, match="not made by the kit"):
        await p.deprovision(name, tmp_path / "archives")
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"")
    with pytest.raises(ProvisionError, match="not made by the kit"):
        await p.restore(name, archive, force=True)
    with pytest.raises(ProvisionError, match="not made by the kit"):
        await p.reset(name)
    assert homes_of([name]) == before
    if name == service_account[0]:
        assert (service_account[1] / "service.db").read_text() == "the service's data\n"


async def test_listed_by_name_an_account_may_be_used_but_not_removed(
    tmp_path, service_account, as_root
):
    name, home = service_account
    p = make(tmp_path / "homes", adopt_accounts=[name])
    mount = await p.provision(name, Quota())
    assert mount.source == str(home)
    with pytest.raises(ProvisionError, match="not made by the kit"):
        await p.deprovision(name, tmp_path / "archives")
    assert (home / "service.db").exists()


async def test_an_account_the_kit_made_is_its_own_to_remove(tmp_path, as_root):
    name = f"jk{uuid.uuid4().hex[:8]}"
    p = make(tmp_path / "homes")
    try:
        await p.provision(name, Quota())
        entry = pwd.getpwnam(name)
        assert entry.pw_uid >= login_defs_uid_min()
        record = p.state.get(name)
        assert record["made"] is True and record["uid"] == entry.pw_uid
        Path(entry.pw_dir, "essay.txt").write_text("mine\n")
        archive = await p.deprovision(name, tmp_path / "archives")
        assert archive is not None and archive.exists() and not os.path.exists(entry.pw_dir)
    finally:
        subprocess.run(["userdel", "--remove", "--", name], check=False, capture_output=True)


def test_existing_accounts_names_the_systems():
    found = existing_accounts(["root", "daemon", "nobody", "no-such-account-xyz"])
    assert found["root"] == 0 and "daemon" in found and "nobody" in found
    assert "no-such-account-xyz" not in found


CONFIG = """\
c = get_config()
c.QuotaDockerSpawner.home_provisioner = "system-user"
"""


@pytest.mark.parametrize("makes_accounts", [False, True])
def test_users_import_warns_or_refuses_system_names(tmp_path, makes_accounts, as_root):
    from jhub_kit.cli import main

    csv = tmp_path / "class.csv"
    csv.write_text("username\nalice\ndaemon\n")
    args = ["users", "import", str(csv), "--dry-run", "--hub-url", "http://127.0.0.1:9"]
    if makes_accounts:
        cfg = tmp_path / "jupyterhub_config.py"
        cfg.write_text(CONFIG)
        args += ["-f", str(cfg)]
    r = CliRunner().invoke(main, args)
    if makes_accounts:
        assert r.exit_code == 1 and "nothing was imported" in r.output, r.output
        assert "daemon (uid" in r.output
    else:
        assert "warning: these names are system accounts of this machine: daemon" in r.output


async def test_a_colleagues_login_is_refused_unless_any_login_may_be_adopted(tmp_path, as_root):
    name = f"jkc{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--create-home", "--", name], check=True, capture_output=True)
    try:
        home = Path(pwd.getpwnam(name).pw_dir)
        (home / "thesis.tex").write_text("years of work\n")
        with pytest.raises(ProvisionError, match="is an existing account"):
            await make(tmp_path / "homes").provision(name, Quota())
        p = make(tmp_path / "homes2", adopt_accounts=["*"])  # PAM users, say
        assert (await p.provision(name, Quota())).source == str(home)
        with pytest.raises(ProvisionError, match="not made by the kit"):
            await p.deprovision(name, tmp_path / "archives")
        assert (home / "thesis.tex").read_text() == "years of work\n"
    finally:
        subprocess.run(["userdel", "--remove", "--", name], check=False, capture_output=True)

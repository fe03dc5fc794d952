"""A throwaway PostgreSQL server for tests: Debian's binaries (the ``postgresql``
package, /usr/lib/postgresql/VERSION/bin, which scripts/lib.sh installs), a data
directory and a unix socket in a temporary directory of its own, no TCP at all
(``listen_addresses=''``), its log in that directory, never on the terminal.

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres``
user (``nobody`` where there is none) through ``runuser``. The database it makes
belongs to a role of its own, as a hub's would (not a superuser)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin that has the server, or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")]
    found = [d for d in found if (d / "initdb").is_file() and (d / "postgres").is_file()]
    if not found:
        return None
    return max(found, key=lambda d: [int(x) for x in d.parent.name.split(".") if x.isdigit()])


class PgServer:
    """``start()`` makes the cluster and the database, ``stop()`` ends the server
    (``pg_ctl stop -m fast``) and removes the directory. ``url``: the
    SQLAlchemy URL of the database, through the socket."""

    def __init__(self, bindir: Path, db: str = "jupyterhub", role: str = "jupyterhub"):
        self.bindir, self.db, self.role = bindir, db, role
        # the socket's path must stay short (108 bytes) and reachable by the server's
        # user: a directory of its own in /tmp, not pytest's (0700, root's, deep)
        self.dir = Path(tempfile.mkdtemp(prefix="jhub-kit-pg-"))
        self.data, self.log = self.dir / "data", self.dir / "postgres.log"
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
                self.user = "postgres"
            except KeyError:
                self.user = "nobody"
            pw = pwd.getpwnam(self.user)
            try:
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            except OSError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise

    @property
    def url(self) -> str:
        # the driver named: SQLAlchemy 2.1's plain postgresql:// means psycopg 3
        return f"postgresql+psycopg2://{self.role}@/{self.db}?host={self.dir}"

    def _as_server_user(self, *cmd: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return self._run(*prefix, *cmd)

    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        r = subprocess.run(
            cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=self.dir
        )
        if r.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} exited {r.returncode}: {r.stdout}{r.stderr}{self.log_tail()}"
            )
        return r

    def log_tail(self, n: int = 3000) -> str:
        try:
            return "\n--- postgres.log ---\n" + self.log.read_text()[-n:]
        except OSError:
            return ""

    def start(self) -> None:
        b = self.bindir
        # trust: only the socket exists, in a directory only root and the server's user
        # can open (0700); fsync off: a test's database, thrown away after
        self._as_server_user(
            str(b / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_server_user(
            str(b / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        client = ["-h", str(self.dir), "-U", "postgres"]
        self._run(str(b / "createuser"), *client, "--login", self.role)
        self._run(str(b / "createdb"), *client, "--owner", self.role, self.db)

    def stop(self) -> None:
        """Stop the server if it runs (a failed stop raises and keeps the directory,
        its log with it), then remove the directory."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self._as_server_user(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                    "-t", "60", "stop",
                )  # fmt: skip
            except Exception:
                self._kill(pid_file)  # never a server left running past the test
                raise
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _kill(pid_file: Path) -> None:
        """The postmaster by its pid file: SIGQUIT (PostgreSQL's immediate
        shutdown), then SIGKILL if it is still there after 10 s."""
        import signal

        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.1)

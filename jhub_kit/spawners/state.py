"""What a kit spawner remembers of its server, kept under one key of the spawner's
state in the hub's database (``state["jhub_kit"]``) by every kit spawner, so the
student view, the class dashboard and a restarted hub read one shape whatever
the engine:

- ``quota``: the running server's quota; ``home``: its home mount;
- ``oom_kills``: processes the kernel killed for memory (a kernel, the server);
- ``last_event``: why the last server or a kernel in it was stopped (kept after
  the server stops: the student is shown why);
- ``pool_member``: the warm pool member the server runs in;
- ``profile``: the running server's profile (``{"slug", "name"}``);
- live only (the REST API reads ``get_state()`` with ``admin:server_state``):
  ``queue_ahead`` (place in the start queue), ``home_usage`` (last measure),
  ``live`` (memory and CPU in use, where the hub reads them from the engine:
  a swarm's nodes);
- ``schema``: the shape's version; a newer shape is refused in words.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..provision import HomeMount, Usage
from ..quota.policy import STATE_KEY, Quota, format_duration, read_kit_state

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    from traitlets.config import LoggingConfigurable as _Base

#: the version of the shape of the kit's part (``state[STATE_KEY]``, read by
#: :func:`~jhub_kit.quota.policy.read_kit_state`) this kit writes and reads
SCHEMA = 1


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=timezone.utc) if when and when.tzinfo is None else when


def idle_stop_text(
    idle_timeout: int | None,
    max_age: int | None,
    last_activity: datetime | None,
    started: datetime | None,
    now: datetime,
) -> str:
    """Why a server stopped at ``now`` by its own idle rules ("" if none explains it):
    past its ``max_age`` after ``started``, or ``idle_timeout`` after its last
    activity (the hub's times, naive UTC). A stop by someone else of a server that
    idle is told the same way: the culler would have stopped it."""
    last, started = _aware(last_activity), _aware(started)
    if max_age and started is not None and (now - started).total_seconds() >= max_age:
        return (
            f"Your last server was stopped by the idle culler: it reached its maximum "
            f"age of {format_duration(max_age)}."
        )
    last = last or started
    if idle_timeout and last is not None and (now - last).total_seconds() >= idle_timeout:
        return (
            f"Your last server was stopped by the idle culler after "
            f"{format_duration(idle_timeout)} without activity."
        )
    return ""


class KitStateMixin(_Base):
    """The kit's per-server record: kept in the hub's database, shown to people."""

    quota: Quota | None = None
    """The quota of the current (or last) server."""

    home_mount: HomeMount | None = None
    """The home mounted into the current (or last) server."""

    oom_kills = 0
    """Processes OOM-killed in the current server, as seen by ``poll``."""

    last_event: dict[str, Any] | None = None
    """Why the last server (or a process in it) was stopped: shown to the student."""

    home_usage: Usage | None = None
    """The home's use when last measured."""

    queue_ahead: int | None = None
    """How many starts are ahead of this one in the start queue, while it waits."""

    pool_member = ""
    """The warm pool member this server runs in ("" for a cold start)."""

    live: dict[str, Any] | None = None
    """Memory (bytes) and CPU (% of a core) in use, where the hub reads them from the
    engine (a swarm's node): ``{"memory_used": n, "cpu_percent": x, "at": iso}``."""

    profile_label: dict[str, str] | None = None
    """``{"slug", "name"}`` of the running server's profile (set by the profile part)."""

    def record_profile(self, label: dict[str, str] | None) -> None:
        """Keep ``label`` (``{"slug", "name"}``) as this server's profile; None: none."""
        self.profile_label = label

    def _event(self, text: str) -> None:
        self.last_event = {"text": text, "at": datetime.now(timezone.utc).isoformat()}

    _kit_running = False

    def running_record(self) -> bool:
        """Whether a server this spawner started is there now (its quota is worth keeping)."""
        return bool(getattr(self, "object_id", "")) and self._kit_running

    def server_started(self) -> None:
        """The start succeeded: the record is the running server's."""
        self._kit_running = True

    async def stop(self, now: bool = False) -> None:
        self._note_idle_stop()
        await super().stop(now)
        self._kit_running = False

    def _note_idle_stop(self) -> None:
        """A stop of a server past its own idle rule is the idle culler's: say so."""
        orm = getattr(self, "orm_spawner", None)
        if orm is None or self.quota is None or not self.running_record():
            return
        now = datetime.now(timezone.utc)
        text = idle_stop_text(
            self.quota.idle_timeout, self.quota.max_age, orm.last_activity, orm.started, now
        )
        if text:
            self._event(text)

    def kit_state(self) -> dict[str, Any]:
        """The kit's part of the state (empty when there is nothing to keep)."""
        kit: dict[str, Any] = {}
        if self.running_record() and self.quota is not None:
            kit["quota"] = self.quota.to_state()
            kit["oom_kills"] = self.oom_kills
            kit["home"] = (
                None
                if self.home_mount is None
                else {"source": self.home_mount.source, "type": self.home_mount.type}
            )
            if self.pool_member:
                kit["pool_member"] = self.pool_member
            if self.profile_label:
                kit["profile"] = dict(self.profile_label)
        if self.last_event:
            kit["last_event"] = self.last_event
        if self.queue_ahead is not None:
            kit["queue_ahead"] = self.queue_ahead
        if self.home_usage is not None:
            kit["home_usage"] = self.home_usage.to_state()
        if self.live is not None and self.running_record():
            kit["live"] = self.live
        if kit:
            kit["schema"] = SCHEMA
        return kit

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        kit = self.kit_state()
        if kit:
            state[STATE_KEY] = kit
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self._kit_running = bool(getattr(self, "object_id", ""))  # a server the hub found
        kit = read_kit_state(state)
        if not kit and state.get("quota"):  # QuotaSwarmSpawner before the shared record
            kit = {"quota": state["quota"]}
        try:
            schema = int(kit.get("schema", 1))
            if schema > SCHEMA:
                self.log.error(
                    "The state of %s was written by a newer jhub_kit (schema %d; this one "
                    "reads %d): not read. Install that jhub_kit again, or stop the server "
                    "with it before downgrading.",
                    self.user.name,
                    schema,
                    SCHEMA,
                )
                return
            if kit.get("quota") is not None:
                self.quota = Quota.from_state(kit["quota"])
            self.oom_kills = int(kit.get("oom_kills", 0))
            event = kit.get("last_event")
            if isinstance(event, dict) and isinstance(event.get("text"), str):
                self.last_event = {"text": event["text"], "at": str(event.get("at", ""))}
            self.pool_member = str(kit.get("pool_member", ""))
            home = kit.get("home")
            if home:
                self.home_mount = HomeMount(str(home["source"]), str(home.get("type", "bind")))
            label = kit.get("profile")
            if isinstance(label, dict) and isinstance(label.get("slug"), str):
                self.profile_label = {"slug": label["slug"], "name": str(label.get("name", ""))}
        except (TypeError, ValueError, KeyError) as e:
            self.log.warning("Ignoring unreadable kit state of %s: %s", self.user.name, e)

    def clear_state(self) -> None:
        super().clear_state()
        self.oom_kills = 0
        self.live = None

    def save_state_now(self) -> None:
        """Write the state to the hub's database now (JupyterHub saves it only at
        start and stop), so a hub restart does not report old OOM kills again."""
        from sqlalchemy.orm import object_session

        # the session the hub's own row lives in (Spawner.db is deprecated in JupyterHub 6)
        orm_spawner = getattr(self, "orm_spawner", None)
        db = object_session(orm_spawner) if orm_spawner is not None else None
        if orm_spawner is None or db is None:
            return
        try:
            orm_spawner.state = self.get_state()
            db.commit()
        except Exception as e:  # never break poll over bookkeeping
            self.log.warning("Could not save the state of %s: %s", self.user.name, e)
            db.rollback()

    def view_inputs(self) -> dict[str, Any]:
        """What the hub's pages show this user is made of: the quota, the home's use,
        the last stop and the running server's profile, as the keyword arguments of
        :func:`jhub_kit.views.student.student_view` (the view, a layer above, makes
        the page's rows from them)."""
        quota = self.quota or self.resolve_quota_now()
        label = self.profile_label or {}
        shown = label.get("name", "") if self.running_record() else ""
        return {
            "quota": quota,
            "usage": self.home_usage,
            "last_event": self.last_event,
            "profile": shown,
        }

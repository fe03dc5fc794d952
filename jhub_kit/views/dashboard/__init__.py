"""The class dashboard: a hub-managed service for teachers at ``/services/class-dashboard/``.

Every user with their server's state, memory used / limit, CPU, home used /
limit, last activity, OOM kills and place in the start queue; sortable,
refreshing itself, with a CSV download. Access is JupyterHub's own: admins,
and the members of ``c.JhubKit.dashboard_group`` (through a role granting
``access:services!service=class-dashboard``); anyone else gets 403 from the hub.
One route answers students instead: their own notices, for the kit's JupyterLab
extension in their servers (:mod:`.lab_notices`, by the token JupyterLab holds).

What it reads, without slowing the hub: one paginated ``GET /users`` per
refresh (the kit's live state of each server comes in the server model with
``admin:server_state``), the containers' cgroup files on the host (memory and
CPU, like ``docker stats``) or, for a server on another machine (a swarm), the
reading its spawner took from that node's engine (``live`` in the state), and
the quotas and homes the hub's config gives (the same rows as ``jhub-kit quota
report``), homes measured once a minute.
Turned on by :func:`jhub_kit.configure`; see ``docs/reference/dashboard.md``.
"""

SERVICE_NAME = "class-dashboard"

#: what the dashboard's own token may do: read users and servers, and the
#: kit's per-server state (quota, OOM kills, queue place, home use)
SERVICE_SCOPES = ["list:users", "read:users", "read:servers", "admin:server_state"]

"""jupyterhub-idle-culler's config file, as the bundle runs it (``--config`` this file):
each server's own idle rules (:func:`jhub_kit.idle.cull_arbiter`)."""

from jhub_kit.idle import cull_arbiter

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - the culler's config loader
c.IdleCuller.cull_arbiter_hook = cull_arbiter

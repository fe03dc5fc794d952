"""jupyterhub-idle-culler's config file, as the bundle runs it (``--config`` this file):
each server's own idle rules and the teachers' extensions for today
(:func:`jhub_kit.idle.arbiter_with_extensions`, the file named by
``$JHUB_KIT_IDLE_EXTENSIONS``)."""

from jhub_kit.idle import arbiter_with_extensions
from jhub_kit.quota.extensions import extensions_path_from_env

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - the culler's config loader
c.IdleCuller.cull_arbiter_hook = arbiter_with_extensions(extensions_path_from_env())

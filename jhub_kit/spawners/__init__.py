"""The spawners and the parts they share.

:mod:`.kit` holds the one start both spawners share (``KitSpawner``: the quota,
profiles, the budget, the home, the start queue and the record, composed from
:mod:`jhub_kit.quota.traits`, :mod:`.profiles`, :mod:`.budget`, :mod:`.homes`,
:mod:`.start_queue` and :mod:`.state`); :mod:`.docker` (QuotaDockerSpawner) and
:mod:`.swarm` (QuotaSwarmSpawner) override its small template methods to submit
the :mod:`jhub_kit.spec` description to their engine. :mod:`.pool` is the warm
pool's part of a start (QuotaDockerSpawner's), :mod:`.oom` a container's
cgroup and :mod:`.adapter` every DockerSpawner internal the kit relies on.
See docs/architecture.md ("One start, and the parts it calls").
"""

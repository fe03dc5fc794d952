"""The spawners and the mixins they share.

:mod:`.docker` (QuotaDockerSpawner) and :mod:`.swarm` (QuotaSwarmSpawner) submit
a :mod:`jhub_kit.spec` description to an engine; :mod:`.homes` (home
provisioning), :mod:`.start_queue` with :mod:`.admission` (the FIFO start gate),
:mod:`.oom` (a container's cgroup) and :mod:`.adapter` (every DockerSpawner
internal the kit relies on) are shared by both.
"""

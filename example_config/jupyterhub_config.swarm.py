# The class of jupyterhub_config.py on a Docker Swarm (docs/tutorials/swarm.md).
# Changed from the one-host file: the engine, the hub's address, and the
# spawner's section name (QuotaDockerSpawner -> QuotaSwarmSpawner).
import os

import jhub_kit

c = get_config()  # noqa: F821

c.JhubKit.engine = "swarm"  # servers run on the swarm's nodes, each on its node's address
c.JhubKit.authenticator = os.environ.get("JHUB_KIT_AUTHENTICATOR", "native")
c.JhubKit.userlist = "/srv/jupyterhub/userlist"
c.JhubKit.idle_timeout = 3600
jhub_kit.configure(c)
c.JupyterHub.hub_connect_ip = os.environ.get("JHUB_KIT_HUB_ADDRESS", "10.0.0.1")  # nodes reach

# quotas: the same traits and the same quotas.toml (node_labels pin a group to nodes)
c.QuotaSwarmSpawner.mem_limit = "1G"
c.QuotaSwarmSpawner.cpu_limit = 1
c.QuotaSwarmSpawner.pids_limit = 512
c.QuotaSwarmSpawner.quota_policy_file = "/srv/jupyterhub/quotas.toml"

# homes: made by the hub in a share every node mounts at this same path (NFS)
c.HomeProvisioner.base_dir = "/srv/class-homes"
# the managers manage; servers go to the workers
c.QuotaSwarmSpawner.extra_placement_spec = {"constraints": ["node.role==worker"]}

# A class on one Docker host with jhub_kit: 30 lines instead of a blog post's 80.
# Every value the bundle sets can be overridden below (or before configure()).
import os

import jhub_kit

c = get_config()  # noqa: F821

c.JhubKit.authenticator = os.environ.get("JHUB_KIT_AUTHENTICATOR", "native")  # github, pam
# database and cookie secret: $JHUB_KIT_DATA_DIR or /srv/jupyterhub/data (a volume)
c.JhubKit.userlist = "/srv/jupyterhub/userlist"  # "alice admin group:teachers" lines
c.JhubKit.idle_timeout = 3600  # stop servers idle for an hour
jhub_kit.configure(c)  # image, network, notebook dir: DOCKER_* variables in .env

# quotas: defaults here, per group and per user in quotas.toml (edit it live)
c.QuotaDockerSpawner.mem_limit = "1G"
c.QuotaDockerSpawner.cpu_limit = 1
c.QuotaDockerSpawner.pids_limit = 512
c.QuotaDockerSpawner.quota_policy_file = "/srv/jupyterhub/quotas.toml"

# homes: one Docker volume per user, as jupyterhub-deploy-docker does
# (on a host with root, "loopfile" or "btrfs" give each home a hard size limit)
c.QuotaDockerSpawner.home_provisioner = "docker-volume"
c.DockerVolumeProvisioner.volume_prefix = "jupyterhub-user-"

# a classroom logs in at once: two starts at a time, the rest wait in line
c.QuotaDockerSpawner.concurrent_starts = 2

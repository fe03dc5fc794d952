"""Configuration of the demo hub started by scripts/demo.sh (not for production)."""

import os

from jhub_kit.config import add_dashboard, add_student_view

c = get_config()  # noqa: F821

demo_dir = os.environ["JHUB_KIT_DEMO_DIR"]

c.JupyterHub.bind_url = "http://127.0.0.1:8000"
c.JupyterHub.db_url = f"sqlite:///{demo_dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{demo_dir}/jupyterhub_cookie_secret"

# users come from the userlist file (edit it while the hub runs); one shared password
# for the students, another for the userlist's admins (JupyterHub's SharedPassword-
# Authenticator, which replaced DummyAuthenticator.password in JupyterHub 5.3)
c.JupyterHub.authenticator_class = "userlist-shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["JHUB_KIT_DEMO_PASSWORD"]
c.SharedPasswordAuthenticator.admin_password = os.environ["JHUB_KIT_DEMO_ADMIN_PASSWORD"]
c.UserlistMixin.userlist_file = f"{demo_dir}/userlist"

# the kit's spawner, with quotas
c.JupyterHub.spawner_class = "quota-docker"
c.QuotaDockerSpawner.image = os.environ["JHUB_KIT_TEST_IMAGE"]
c.QuotaDockerSpawner.pull_policy = "never"
# servers on the demo's own bridge network, isolated from each other and the host
# (the kit's firewall rules); the hub API listens on that network's gateway only
c.QuotaDockerSpawner.network_name = os.environ["JHUB_KIT_DEMO_NETWORK"]
c.JupyterHub.hub_ip = os.environ["JHUB_KIT_DEMO_HUB_IP"]
c.QuotaDockerSpawner.prefix = "jhub-kit-demo"
c.QuotaDockerSpawner.mem_limit = "512M"
c.QuotaDockerSpawner.cpu_limit = 1
c.QuotaDockerSpawner.pids_limit = 128
c.QuotaDockerSpawner.quota_groups = {
    "teachers": {"mem_limit": "1G", "cpu_limit": 2, "disk_limit": "2G"}
}
# quota'd homes: an ext4 image per user, loop-mounted, owned by jovyan (1000:100)
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.QuotaDockerSpawner.disk_limit = "1G"
c.QuotaDockerSpawner.home_target = "/home/jovyan"
c.HomeProvisioner.base_dir = f"{demo_dir}/homes"
# two servers started ahead of time: the first logins get JupyterLab in about a second
c.QuotaDockerSpawner.pool_size = 2
c.QuotaDockerSpawner.pool_dir = f"{demo_dir}/pool"
c.Spawner.default_url = "/lab"

# what students and teachers see: quotas on the hub's pages, the class dashboard
# at /services/class-dashboard/ for admins and the "teachers" group
add_student_view(c)
add_dashboard(c, group="teachers", settings="/run/jhub-kit/demo-class-dashboard.json")

# the banner's `jhub-kit server inspect`: a token (demo.sh writes it) that may read the
# servers' state (which container is whose: a warm pool member keeps its own name)
with open(f"{demo_dir}/api-token") as f:
    c.JupyterHub.services.append({"name": "demo-admin-cli", "api_token": f.read().strip()})
c.JupyterHub.load_roles.append(
    {
        "name": "demo-admin-cli",
        "scopes": ["read:users", "read:servers", "admin:server_state"],
        "services": ["demo-admin-cli"],
    }
)

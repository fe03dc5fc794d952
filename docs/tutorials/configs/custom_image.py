# Seed 002: SageMath image, 500M memory, a volume per user, hub on the host.
import jhub_kit

c = get_config()  # noqa: F821
c.JhubKit.authenticator = "pam"
c.JhubKit.image = "rsworktech/sagemath-jupyterhub-docker:latest"
c.JhubKit.network_name = "bridge"
c.JhubKit.notebook_dir = "/home/sage/notebooks"
jhub_kit.configure(c)  # hub_ip 0.0.0.0; containers reach it through the gateway
c.QuotaDockerSpawner.mem_limit = "500M"
c.QuotaDockerSpawner.home_provisioner = "docker-volume"
c.DockerVolumeProvisioner.volume_prefix = "jupyterhub-user-"
c.Authenticator.admin_users = {"root"}

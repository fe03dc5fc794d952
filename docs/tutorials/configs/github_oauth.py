# Seeds 001/004: GitHub OAuth, userlist with admin, hub in a container, data in a volume.
import jhub_kit

c = get_config()  # noqa: F821
c.JhubKit.authenticator = "github"
# data: JHUB_KIT_DATA_DIR=/data in .env, where the jupyterhub-data volume is mounted
c.JhubKit.userlist = "/srv/jupyterhub/userlist"
jhub_kit.configure(c)  # DOCKER_NETWORK_NAME, DOCKER_NOTEBOOK_IMAGE from the environment
c.QuotaDockerSpawner.home_provisioner = "docker-volume"
c.DockerVolumeProvisioner.volume_prefix = "jupyterhub-user-"
c.JupyterHub.bind_url = "http://:8000"  # TLS terminates at nginx

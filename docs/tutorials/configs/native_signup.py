# Seed 000: NativeAuthenticator with sign-up, homes made before the first spawn.
import jhub_kit

c = get_config()  # noqa: F821
c.JhubKit.authenticator = "native"
c.JhubKit.userlist = "/srv/jupyterhub/userlist"  # "teacher admin" + one line per student
jhub_kit.configure(c)
c.QuotaDockerSpawner.home_provisioner = "directory"
c.DirectoryProvisioner.base_dir = "/srv/jupyterhub/homes"
c.QuotaDockerSpawner.notebook_dir = "/home/jovyan"

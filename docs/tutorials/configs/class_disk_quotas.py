# Seed 003: 300M memory, no swap, 1G disk per student (LVM as in the seed), idle culler.
import jhub_kit

c = get_config()  # noqa: F821
c.JhubKit.authenticator = "native"
c.JhubKit.network_name = "host"
c.JhubKit.idle_timeout = 3600
jhub_kit.configure(c)
c.QuotaDockerSpawner.mem_limit = "300M"  # swap stays off (swap_limit = 0)
c.QuotaDockerSpawner.disk_limit = "1G"
c.QuotaDockerSpawner.home_provisioner = "lvm"
c.LvmProvisioner.volume_group = "user_vg"
c.LvmProvisioner.base_dir = "/opt/jupyterhub/user_volumes"
c.QuotaDockerSpawner.notebook_dir = "/home/jovyan"

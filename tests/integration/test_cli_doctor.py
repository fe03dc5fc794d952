"""jhub-kit doctor against the real engine, image and proxy."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import TEST_PREFIX

from jhub_kit.cli import main

pytestmark = [pytest.mark.docker, pytest.mark.root]


def config(tmp_path, image, homes, userlist, extra=""):
    p = tmp_path / "jupyterhub_config.py"
    p.write_text(
        "c = get_config()\n"
        f"c.QuotaDockerSpawner.image = {image!r}\n"
        "c.QuotaDockerSpawner.network_name = 'host'\n"
        "c.QuotaDockerSpawner.home_provisioner = 'loopfile'\n"
        f"c.HomeProvisioner.base_dir = {str(homes)!r}\n"
        f"c.UserlistMixin.userlist_file = {str(userlist)!r}\n" + extra
    )
    return str(p)


def test_doctor_all_good(docker_client, test_image, chp, mount_area, tmp_path):
    userlist = tmp_path / "userlist"
    userlist.write_text("teacher admin\nstudent1\n")
    r = CliRunner().invoke(
        main, ["doctor", "-f", config(tmp_path, test_image, mount_area, userlist)]
    )
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert all(line.startswith("ok  ") for line in lines), r.output
    assert any(f"image {test_image} is present" in line for line in lines)
    assert any("loopfile homes in" in line for line in lines)
    assert any("2 users, 1 admins" in line for line in lines)


def test_doctor_reports_what_to_fix(docker_client, test_image, chp, mount_area, tmp_path):
    userlist = tmp_path / "userlist"
    userlist.write_text("teacher admn\n")
    path = config(
        tmp_path,
        "no-such-image:1",
        mount_area,
        userlist,
        "c.QuotaDockerSpawner.network_name = 'bridge'\n",
    )
    r = CliRunner().invoke(main, ["doctor", "-f", path])
    assert r.exit_code == 1
    assert (
        "FAIL image no-such-image:1 is not on this host\n     fix: docker pull no-such-image:1"
        in r.output
    )
    assert (
        "FAIL c.JupyterHub.hub_ip is 127.0.0.1: containers on Docker network 'bridge'" in r.output
    )
    assert "FAIL userlist unusable:" in r.output and "unknown word 'admn'" in r.output
    assert "3 problem(s) found" in r.output


def test_doctor_checks_network_isolation(docker_client, test_image, chp, mount_area, tmp_path):
    import asyncio

    from hubutil import own_network

    from jhub_kit.network import firewall

    userlist = tmp_path / "userlist"
    userlist.write_text("teacher admin\n")
    with own_network(docker_client, f"{TEST_PREFIX}-doctornet") as net:
        path = config(
            tmp_path,
            test_image,
            mount_area,
            userlist,
            f"c.QuotaDockerSpawner.network_name = '{TEST_PREFIX}-doctornet'\n"
            "c.JupyterHub.hub_ip = '0.0.0.0'\n",
        )
        r = CliRunner().invoke(main, ["doctor", "-f", path])
        assert f"FAIL servers on '{TEST_PREFIX}-doctornet' are not isolated" in r.output, r.output
        assert "iptables -I DOCKER-USER 1 -i br-" in r.output
        iso = firewall.Isolation(firewall.bridge_of(net.attrs), (8081,))
        asyncio.run(firewall.apply(iso))
        r = CliRunner().invoke(main, ["doctor", "-f", path])
        assert f"ok   servers on '{TEST_PREFIX}-doctornet' are isolated" in r.output, r.output

"""Seeds 001 and 004 as deployed: example_config/ brought up with docker-compose, the
hub in a container with the Docker socket, servers on the compose network, nginx
with TLS in front (example_config/nginx.conf), and OAuth login through a real
provider: a second JupyterHub, acting as the identity provider for the kit's
generic-OAuth userlist authenticator (GitHub cannot be reached offline; the
authenticator's code path is the same OAuthenticator flow).

Everything a browser touches is on 127.0.0.1 (nginx, the provider's published
port); the hub reaches the provider by its service name on the compose network.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import attackrig
import pytest
import requests
import yaml
from browserrig import MS, Shots, wait_for_lab
from conftest import TEST_PREFIX, dump_containers, remove_test_containers
from hubimage import EXAMPLE, example_context, hub_base_image
from hubutil import PROBE
from ports import free_port

from jhub_kit.network import firewall

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.compose]

PROJECT = f"{TEST_PREFIX}-compose"
NET = f"{TEST_PREFIX}-compose-net"
HUB = f"{TEST_PREFIX}-compose-hub"
HOME_PREFIX = f"{TEST_PREFIX}-home-"
IDP_PASSWORD = "idp-" + secrets.token_hex(8)
LOGS = Path("/var/log/jhub-kit")

IDP_CONFIG = """\
# the identity provider: a plain JupyterHub whose OAuth server the kit logs in with
c = get_config()  # noqa: F821
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.db_url = "sqlite:////tmp/idp.sqlite"
c.JupyterHub.cookie_secret_file = "/tmp/idp_cookie_secret"
c.JupyterHub.services = [{{
    "name": "kit",
    "oauth_client_id": "service-kit",
    "api_token": {secret!r},
    "oauth_redirect_uri": {redirect!r},
    "oauth_no_confirm": True,
}}]
# users may log in to the kit through this provider (JupyterHub asks for this scope)
c.JupyterHub.load_roles = [{{
    "name": "user", "scopes": ["self", "access:services!service=kit"],
}}]
"""

RIG_CONFIG = """

# --- test rig (tests/system/test_compose_deploy.py): names the suite cleans up, the local image
c.QuotaDockerSpawner.prefix = {prefix!r}
c.QuotaDockerSpawner.pull_policy = "never"
c.DockerVolumeProvisioner.volume_prefix = {home_prefix!r}
"""


def _compose(ctx: Path, *args: str, timeout: float = 900) -> str:
    cmd = ["docker-compose", "-p", PROJECT, "-f", str(ctx / "docker-compose.yml"), *args]
    proc = subprocess.run(cmd, cwd=ctx, capture_output=True, text=True, timeout=timeout)
    with open(LOGS / "compose-test.log", "a") as log:
        log.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"example_config/nginx.conf no longer has {old!r} once"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def deployment(docker_client, test_image, tmp_path_factory):
    """The example compose project, as a user brings it up, with an OAuth provider
    and nginx beside it; yields the public https URL and what the test needs."""
    LOGS.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("compose")
    ctx = example_context(tmp / "example_config")
    hub_port, idp_port, https_port, http_port = (free_port() for _ in range(4))
    public = f"https://127.0.0.1:{https_port}"
    secret = secrets.token_hex(32)

    # the user's steps: .env from .env.example, then compose up --build
    env = (EXAMPLE / ".env.example").read_text()
    values = {
        "DOCKER_NETWORK_NAME": NET,
        "DOCKER_NOTEBOOK_IMAGE": test_image,
        "JHUB_KIT_AUTHENTICATOR": "generic-oauth",
        "OAUTH_CALLBACK_URL": f"{public}/hub/oauth_callback",
    }
    for key, value in values.items():
        env, n = re.subn(rf"^{key}=.*$", f"{key}={value}", env, flags=re.M)
        assert n == 1, f".env.example has no {key}= line"
    env += (
        "OAUTH_CLIENT_ID=service-kit\n"
        f"OAUTH_CLIENT_SECRET={secret}\n"
        f"OAUTH2_AUTHORIZE_URL=http://127.0.0.1:{idp_port}/hub/api/oauth2/authorize\n"
        "OAUTH2_TOKEN_URL=http://idp:8000/hub/api/oauth2/token\n"
        "OAUTH2_USERDATA_URL=http://idp:8000/hub/api/user\n"
        "OAUTH2_USERNAME_KEY=name\n"
    )
    (ctx / ".env").write_text(env)
    with open(ctx / "jupyterhub_config.py", "a") as f:
        f.write(RIG_CONFIG.format(prefix=TEST_PREFIX, home_prefix=HOME_PREFIX))
    (ctx / "idp").mkdir()
    (ctx / "idp" / "jupyterhub_config.py").write_text(
        IDP_CONFIG.format(
            password=IDP_PASSWORD, secret=secret, redirect=f"{public}/hub/oauth_callback"
        )
    )

    # the compose file as shipped, with the rig's names, loopback ports, an offline build
    compose = yaml.safe_load((EXAMPLE / "docker-compose.yml").read_text())
    hub = compose["services"]["jupyterhub"]
    assert "/var/run/docker.sock:/var/run/docker.sock:rw" in hub["volumes"]
    assert any(v.startswith("jupyterhub-data:") for v in hub["volumes"])
    hub["container_name"] = HUB
    hub["image"] = f"{HUB}:latest"
    hub["ports"] = [f"127.0.0.1:{hub_port}:8000"]
    hub["build"] = {
        "context": ".",
        "network": "none",  # no registry, no index
        "args": {
            "BASE_IMAGE": hub_base_image(docker_client, test_image),
            "PIP_OPTIONS": "--no-index --find-links /tmp/wheels",
        },
    }
    compose["networks"]["jupyterhub-network"]["name"] = NET
    compose["services"]["idp"] = {
        "image": f"{HUB}:latest",
        "container_name": f"{TEST_PREFIX}-compose-idp",
        "command": ["jupyterhub", "-f", "/idp/jupyterhub_config.py"],
        "volumes": [f"{ctx / 'idp'}:/idp:ro"],
        "ports": [f"127.0.0.1:{idp_port}:8000"],
        "networks": ["jupyterhub-network"],
        "depends_on": ["jupyterhub"],  # built by the hub's service
    }
    (ctx / "docker-compose.yml").write_text(yaml.safe_dump(compose))

    # nginx from Debian, running example_config/nginx.conf with the test's ports and cert
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    site = (EXAMPLE / "nginx.conf").read_text()
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("https://$host$request_uri", f"https://$host:{https_port}$request_uri"),
        ("/etc/ssl/jupyterhub/fullchain.pem", str(cert)),
        ("/etc/ssl/jupyterhub/privkey.pem", str(key)),
        ("http://127.0.0.1:8000;", f"http://127.0.0.1:{hub_port};"),
    ]:
        site = _replace_once(site, old, new)
    (tmp / "site.conf").write_text(site)
    temp = tmp / "nginx-temp"
    temp.mkdir()
    (tmp / "nginx.conf").write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {LOGS}/nginx-test-error.log;\n"
        "events {}\nhttp {\n"
        f"  access_log {LOGS}/nginx-test-access.log;\n"
        + "".join(
            f"  {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"  include {tmp}/site.conf;\n}}\n"
    )
    subprocess.run(["nginx", "-t", "-c", str(tmp / "nginx.conf")], check=True, capture_output=True)

    nginx = watcher = None
    try:
        # the hub in a container cannot set the host's iptables: the watcher does, on the
        # host, as docs/reference/security.md says (started first, as a systemd unit would be)
        with open(LOGS / "firewall-watch-test.log", "ab") as out:
            watcher = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "jhub-kit"),
                    *("firewall", "watch", "--network", NET, "--hub-container", HUB),
                    *("--interval", "1"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        _compose(ctx, "up", "-d", "--build")
        with open(LOGS / "nginx-test.log", "ab") as out:
            nginx = subprocess.Popen(
                ["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        _wait_ready(f"{public}/hub/api", cert)
        _wait_ready(f"http://127.0.0.1:{idp_port}/hub/api", None)
        yield {
            "ctx": ctx,
            "public": public,
            "http": f"http://127.0.0.1:{http_port}",
            "cert": str(cert),
            "idp": f"http://127.0.0.1:{idp_port}",
        }
    except BaseException:
        _dump(docker_client, ctx)
        raise
    finally:
        for proc in (nginx, watcher):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        with contextlib.suppress(Exception):
            _compose(ctx, "logs", "--no-color", timeout=60)
        with contextlib.suppress(Exception):
            _compose(ctx, "down", "-v", "--rmi", "local", timeout=300)
        with contextlib.suppress(Exception):  # the network is gone: so are its rules
            subprocess.run(
                [str(Path(sys.executable).parent / "jhub-kit"), "firewall", "prune"],
                capture_output=True,
                timeout=60,
            )
        remove_test_containers(docker_client)
        for v in docker_client.volumes.list(filters={"name": HOME_PREFIX}):
            with contextlib.suppress(Exception):
                v.remove(force=True)
        with contextlib.suppress(Exception):
            docker_client.images.remove(f"{HUB}:latest", force=True)
        shutil.rmtree(tmp, ignore_errors=True)


def _dump(docker_client, ctx: Path) -> None:
    dump_containers(docker_client)
    with contextlib.suppress(Exception):
        print(_compose(ctx, "logs", "--no-color", "--tail", "200", timeout=60))


def _wait_ready(url: str, verify, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(url, verify=verify, timeout=5)
            if r.status_code == 200:
                return
            last = r.status_code
        except requests.RequestException as e:
            last = e
        time.sleep(1)
    raise AssertionError(f"{url} not ready in {timeout} s: {last}")


def _xsrf(html: str) -> str:
    m = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert m, "no _xsrf field in the login form"
    return m.group(1)


def oauth_login(dep: dict, username: str) -> tuple[requests.Session, requests.Response]:
    """A browser's login: the kit's login button, the provider's login form, back."""
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override the test's certificate
    s.verify = dep["cert"]
    r = s.get(f"{dep['public']}/hub/oauth_login")
    # at the provider's login form (its authorize endpoint sent us there)
    assert urlparse(r.url).port == urlparse(dep["idp"]).port, r.url
    r = s.post(
        r.url,
        data={"username": username, "password": IDP_PASSWORD, "_xsrf": _xsrf(r.text)},
    )
    return s, r


def wait_for_server(s: requests.Session, dep: dict, name: str, timeout: float = 180):
    """Start NAME's server from the browser, wait until it answers through nginx."""
    s.get(f"{dep['public']}/hub/spawn")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # a page first: the server logs the browser in through the hub (OAuth, via nginx)
        r = s.get(f"{dep['public']}/user/{name}/lab")
        if r.status_code == 200 and r.url == f"{dep['public']}/user/{name}/lab":
            r = s.get(f"{dep['public']}/user/{name}/api/contents/")
            if r.status_code == 200:
                return r
        time.sleep(2)
    history = [(h.status_code, h.url) for h in r.history]
    raise AssertionError(
        f"{name}'s server did not answer through nginx: {r.status_code} {r.url} "
        f"after {history}: {r.text[:1500]}"
    )


def _address(docker_client, container: str) -> str:
    attrs = docker_client.containers.get(container).attrs
    return attrs["NetworkSettings"]["Networks"][NET]["IPAddress"]


def probe_from(docker_client, server: str, targets: dict) -> dict:
    """Open TCP connections from inside a student's server, as the student."""
    import json

    code, out = docker_client.containers.get(server).exec_run(
        ["python3", "-c", PROBE, json.dumps(targets)], user="1000"
    )
    assert code == 0, out
    return json.loads(out.decode().strip().splitlines()[-1])


def _kit_chains() -> set[str]:
    listing = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    return set(firewall.kit_chains(listing))


def _wait(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def isolation_probe(docker_client) -> dict:
    net = docker_client.networks.get(NET)
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    hub, idp = _address(docker_client, HUB), _address(docker_client, f"{TEST_PREFIX}-compose-idp")
    with attackrig.host_service(gateway) as port:
        return probe_from(
            docker_client,
            f"{TEST_PREFIX}-teacher",
            {
                "hub api": [hub, 8081],
                "hub's public proxy port": [hub, 8000],
                "another container on the network": [idp, 8000],
                "a service on the host": [gateway, port],
            },
        )


def attack_rows(docker_client, hosts: dict) -> dict:
    """The attack suite's rows (tests/support/attackrig.py) from student1's server, with the
    teacher's server as the other student's."""
    net = docker_client.networks.get(NET)
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    hub = _address(docker_client, HUB)
    exec_ = attackrig.docker_exec(docker_client.containers.get(f"{TEST_PREFIX}-student1"))
    with attackrig.host_service(gateway) as port:
        out = attackrig.probe(
            exec_,
            {
                "the other student's server": (
                    _address(docker_client, f"{TEST_PREFIX}-teacher"),
                    8888,
                ),
                "a service on the host": (gateway, port),
                "the cloud metadata address": (hosts["meta"], 80),
                "a private-range host": (hosts["priv"], 80),
                "the proxy's API": (hub, 8001),
                "the Hub API": (hub, 8081),
            },
        )
    out.update(attackrig.in_container(exec_))
    return out


ISOLATED = {
    "hub api": "open",
    "hub's public proxy port": "refused",
    "another container on the network": "refused",
    "a service on the host": "refused",
}


@pytest.fixture(scope="module")
def test_hosts(tmp_path_factory):
    with attackrig.namespace_hosts(tmp_path_factory.mktemp("hosts")) as hosts:
        yield hosts


def test_compose_nginx_tls_oauth_end_to_end(deployment, docker_client, test_hosts, capsys):
    dep = deployment

    # plain HTTP is redirected to HTTPS
    r = requests.get(f"{dep['http']}/hub/", allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == f"{dep['public']}/hub/"

    # the userlist's admin logs in through the provider, and is admin
    s, r = oauth_login(dep, "teacher")
    assert r.status_code == 200, (r.status_code, r.url)
    assert r.url.startswith(dep["public"] + "/hub/"), r.url
    assert s.get(f"{dep['public']}/hub/admin").status_code == 200

    # an account the provider knows but the userlist does not is refused
    _, refused = oauth_login(dep, "mallory")
    assert refused.status_code == 403, (refused.status_code, refused.url)

    # a server on the compose network, reached through nginx and the hub's proxy
    r = wait_for_server(s, dep, "teacher")
    server = docker_client.containers.get(f"{TEST_PREFIX}-teacher")
    assert list(server.attrs["NetworkSettings"]["Networks"]) == [NET]
    [home] = [m for m in server.attrs["Mounts"] if m["Destination"] == "/home/jovyan/work"]
    assert home["Type"] == "volume" and home["Name"] == f"{HOME_PREFIX}teacher"
    code, out = server.exec_run(
        ["sh", "-c", "echo 'kept across compose down' > /home/jovyan/work/notes.txt"],
        user="1000",
    )
    assert code == 0, out
    # the image has no /home/jovyan/work: a short-lived container gave the new volume to
    # jovyan (the hub cannot reach the volume's directory), and is gone
    assert not docker_client.containers.list(all=True, filters={"label": "io.jhub-kit.home"})
    # (the hub reached by the servers: the hub container's name on the network)
    env = dict(e.split("=", 1) for e in server.attrs["Config"]["Env"])
    assert urlparse(env["JUPYTERHUB_API_URL"]).hostname in (HUB, "jupyterhub"), env

    # isolation set up from the host by `jhub-kit firewall watch`: the student's server
    # reaches the Hub API, and nothing else of the hub, the network or the host
    assert isolation_probe(docker_client) == ISOLATED
    # the attack suite, from a second student's server: as on a bridge layout
    s1, r = oauth_login(dep, "student1")
    assert r.status_code == 200, (r.status_code, r.url)
    wait_for_server(s1, dep, "student1")
    rows = attack_rows(docker_client, test_hosts)
    with capsys.disabled():
        print("\n" + attackrig.table({"hub in a container (Compose)": rows}))
    attackrig.record("compose", rows)
    assert rows.pop("the Hub API") == "open"
    assert set(rows.values()) == {"refused"}, rows
    old_bridge = firewall.bridge_of(docker_client.networks.get(NET).attrs)
    old_chains = {f"JHK-F-{old_bridge}", f"JHK-I-{old_bridge}"}
    assert old_chains <= _kit_chains()

    # docker-compose down, then up: users, homes and the cookie secret survive
    _compose(dep["ctx"], "down")
    # the network was deleted (not by the kit): the watcher removes its rules
    _wait(lambda: not old_chains & _kit_chains(), f"{old_chains} left after the network went")
    with pytest.raises(requests.RequestException):
        requests.get(f"{dep['public']}/hub/api", verify=dep["cert"], timeout=5).raise_for_status()
    _compose(dep["ctx"], "up", "-d")
    _wait_ready(f"{dep['public']}/hub/api", dep["cert"])
    _wait_ready(f"{dep['idp']}/hub/api", None)
    r = s.get(f"{dep['public']}/hub/home")
    assert r.status_code == 200 and r.url == f"{dep['public']}/hub/home", r.url  # still logged in
    r = wait_for_server(s, dep, "teacher")
    r = s.get(f"{dep['public']}/user/teacher/api/contents/notes.txt")
    assert r.status_code == 200, r.text
    assert r.json()["content"] == "kept across compose down\n"
    # a new network (new bridge) and a new hub address: isolated again, following them
    new_bridge = firewall.bridge_of(docker_client.networks.get(NET).attrs)
    assert new_bridge != old_bridge
    assert isolation_probe(docker_client) == ISOLATED


def _spki_sha256(cert: str) -> str:
    """The base64 SHA-256 of the certificate's public key: what Chromium is told to
    trust (this one certificate; every other TLS error still fails)."""
    pub = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True, capture_output=True
    ).stdout
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(der).digest()).decode()


async def test_browser_login_through_nginx_tls_and_the_provider(deployment, chromium_path):
    """A student in Chromium: the hub's page over HTTPS through nginx, the kit's OAuth
    login button, the provider's login form, back to the hub, a server started on the
    compose network and JupyterLab drawn, every step through nginx. Screenshots kept."""
    dep = deployment
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("playwright is not installed; run scripts/test.sh")
    shots = Shots("test_browser_login_through_nginx_tls_and_the_provider")
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=chromium_path,
            args=[
                *("--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"),
                f"--ignore-certificate-errors-spki-list={_spki_sha256(dep['cert'])}",
            ],
        )
        try:
            page = await (await b.new_context(viewport={"width": 1280, "height": 800})).new_page()
            r = await page.goto(f"{dep['public']}/hub/login")
            assert r.ok and page.url.startswith(dep["public"] + "/hub/login"), page.url
            await shots(page, "compose-login-page")
            await page.click("a[href*='oauth_login']")
            # the provider's own login form (its authorize endpoint sent the browser there)
            await page.wait_for_selector("#username_input", timeout=60 * MS)
            assert urlparse(page.url).port == urlparse(dep["idp"]).port, page.url
            await page.fill("#username_input", "student2")
            await page.fill("#password_input", IDP_PASSWORD)
            await shots(page, "compose-provider-login")
            await page.click("#login_submit")
            # back at the hub through nginx: the server starts, JupyterLab is drawn
            await page.wait_for_url(re.compile(r"/(hub|user)/"), timeout=60 * MS)
            if "/hub/spawn" in page.url or page.url.endswith("/hub/home"):
                await page.goto(f"{dep['public']}/hub/spawn")
            await wait_for_lab(page)
            assert page.url.startswith(f"{dep['public']}/user/student2/lab"), page.url
            await shots(page, "compose-lab-through-nginx")
        except BaseException:
            for j, pg in enumerate(b.contexts[0].pages if b.contexts else []):
                with contextlib.suppress(Exception):
                    await shots(pg, f"failed-{j}")
            raise
        finally:
            await b.close()

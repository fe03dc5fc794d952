"""The hub image of example_config/, built with no registry.

The example Dockerfile starts FROM quay.io/jupyterhub/jupyterhub; here no registry
answers, so the base is the local single-user image (Debian, Python, JupyterHub)
plus this machine's node and the configurable-http-proxy the rig installed from
npm: what the official hub image carries. Both images are cached by content.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_config"
CACHE = Path(os.environ.get("JHUB_KIT_CACHE", "/var/cache/jhub-kit"))


def hub_wheels() -> Path:
    """jhub_kit and its dependencies as wheels, cached by the content of pyproject.toml
    and of the package's sources (the hub image must run the checkout's code)."""
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    for path in sorted((ROOT / "jhub_kit").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    cache = CACHE / f"hub-wheels-{h.hexdigest()[:12]}"
    if not (cache / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--wheel-dir",
                str(cache),
                f"{ROOT}[native,oauth]",
                "jupyterhub-idle-culler",
            ],
            check=True,
            capture_output=True,
        )
        (cache / ".complete").touch()
    return cache


def _chp_dir() -> Path:
    chp = shutil.which("configurable-http-proxy")
    if not chp:
        raise RuntimeError("configurable-http-proxy is not on PATH (scripts/test.sh installs it)")
    # .node/node_modules/.bin/configurable-http-proxy -> ../configurable-http-proxy/bin/...
    return Path(os.path.realpath(chp)).parent.parent.parent


def hub_base_image(docker_client, test_image: str) -> str:
    """The single-user image plus node and configurable-http-proxy, as a local tag."""
    node = shutil.which("node")
    if not node:
        raise RuntimeError("node is not on PATH (scripts/test.sh installs it with npm)")
    node = os.path.realpath(node)
    modules = _chp_dir()
    image_id = docker_client.images.get(test_image).id
    h = hashlib.sha256(image_id.encode())
    h.update(Path(node).read_bytes())
    h.update((modules / "configurable-http-proxy" / "package.json").read_bytes())
    tag = f"jhub-kit-hubbase:{h.hexdigest()[:12]}"
    try:
        docker_client.images.get(tag)
        return tag
    except Exception:
        pass
    dockerfile = (
        f"FROM {test_image}\n"
        "USER root\n"
        "COPY node /usr/local/bin/node\n"
        "COPY node_modules /opt/chp/node_modules\n"
        "RUN ln -s /opt/chp/node_modules/configurable-http-proxy/bin/configurable-http-proxy"
        " /usr/local/bin/configurable-http-proxy && configurable-http-proxy --version\n"
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(node, arcname="node")
        tar.add(str(modules), arcname="node_modules")
    buf.seek(0)
    docker_client.images.build(
        fileobj=buf, custom_context=True, tag=tag, rm=True, network_mode="none"
    )
    return tag


def example_context(dest: Path) -> Path:
    """A copy of example_config/ with the wheels the offline build installs."""
    shutil.copytree(EXAMPLE, dest)
    for whl in hub_wheels().glob("*.whl"):
        shutil.copy(whl, dest / "wheels")
    return dest

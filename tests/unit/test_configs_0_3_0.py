"""0.3.0's documented configs (tests/fixtures/configs_0_3_0/, extracted from its
README.md, docs/ and example_config/ by extract.py there) still load as JupyterHub
loads them, and ``jhub-kit config check`` finds no error in them."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.config_check import check_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs_0_3_0"
BLOCKS = sorted(FIXTURES.glob("*__*.py"))

_HUB_IP = (
    "c.JupyterHub.hub_ip is 127.0.0.1: containers on Docker network 'bridge' cannot reach "
    "the hub; set c.JupyterHub.hub_ip = '0.0.0.0' or c.JupyterHub.hub_connect_ip, or use "
    "network_name = 'host'"
)
#: what the check rightly finds in a block that is only part of a config: the README's
#: and the quick start's "the parts without the bundle" (the bundle sets hub_ip)
FRAGMENTS = {
    "readme_md__1.py": [_HUB_IP],
    "docs_quickstart_md__1.py": [_HUB_IP],
}


def test_every_documented_block_was_extracted():
    assert len(BLOCKS) == 18
    for path in BLOCKS:
        assert path.read_text().startswith("# jhub_kit 0.3.0 (ee6c948): ")


@pytest.mark.parametrize("path", BLOCKS, ids=[p.stem for p in BLOCKS])
def test_a_0_3_0_config_loads_and_checks_clean(path, tmp_path, monkeypatch):
    monkeypatch.setenv("JHUB_KIT_DATA_DIR", str(tmp_path))  # the bundle makes it
    for name in ("DOCKER_NETWORK_NAME", "DOCKER_NOTEBOOK_IMAGE", "DOCKER_NOTEBOOK_DIR"):
        monkeypatch.delenv(name, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the old names warn, and work
        c = PyFileConfigLoader(path.name, str(FIXTURES)).load_config()
        report = check_config(c)
    assert report.errors == FRAGMENTS.get(path.name, [])

"""``jhub-kit server inspect``'s reading of a container's limits: pure, no engine
(tests/integration/test_class_views_hub.py and test_demo_config.py run it on one)."""

from __future__ import annotations

from jhub_kit.cli.server_cmds import engine_limits

M, G = 1024**2, 1024**3


def test_engine_limits_in_words():
    hc = {"Memory": 512 * M, "MemorySwap": 512 * M, "CpuQuota": 150_000, "CpuPeriod": 100_000}
    assert engine_limits({**hc, "PidsLimit": 128}) == {
        "memory": "512M",
        "swap": "none",
        "cpu": "1.5",
        "pids": "128",
    }
    assert engine_limits({"Memory": 0, "MemorySwap": 0, "PidsLimit": -1, "NanoCpus": 2e9}) == {
        "memory": "unlimited",
        "swap": "-",
        "cpu": "2",
        "pids": "unlimited",
    }
    assert engine_limits({"Memory": G, "MemorySwap": -1})["swap"] == "unlimited"
    assert engine_limits({"Memory": G, "MemorySwap": G + 256 * M})["swap"] == "256M"

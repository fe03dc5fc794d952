"""A class of students as browsers make it, in a process of its own.

    python benchmarks/classload.py students PLAN.json RESULT.json
    python benchmarks/classload.py sample URL TOKEN EVERY_S STOP_FILE RESULT.json

``students``: each student arrives at their time in the plan, asks for their
server (``POST /hub/api/users/NAME/server`` with their own token) and then
follows ``GET /hub/api/users/NAME/server/progress``, the event stream the
spawn-pending page reads, until it says ready or failed. With ``"browser": true``
the student then makes the first requests JupyterLab makes of its server (status,
kernelspecs, settings, the contents of the home). Nobody polls.

``sample``: the hub API's latency through the proxy, one request every EVERY_S
seconds until STOP_FILE exists (at most 30 minutes).

Both run in their own process so that the hub's process (the benchmark's) spends
its CPU on the hub alone; they use the standard library and tornado's HTTP client
(one event loop, no threads). Standard output is left to the parent's log.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

#: the requests JupyterLab makes of a new server before its first paint (4.x)
LAB_FIRST = ("api/status", "api/kernelspecs", "lab/api/settings", "api/contents?content=1")


def arrivals(n: int, pattern: str, span: float, seed: int) -> list[float]:
    """Seconds after the start at which each of ``n`` students arrives, sorted.

    ``once``: all at 0. ``uniform``: uniformly over ``span``. ``bell``: as a class
    told to log in does: about 80 % within the first 30 s (a normal curve around
    10 s), the rest spread over ``span``."""
    rng = random.Random(seed)
    if pattern == "once" or n == 0:
        return [0.0] * n
    if pattern == "uniform":
        return sorted(rng.uniform(0, span) for _ in range(n))
    if pattern == "bell":
        early = round(0.8 * n)
        head = [min(max(rng.gauss(10.0, 6.0), 0.0), min(30.0, span)) for _ in range(early)]
        tail = [rng.uniform(0, span) for _ in range(n - early)]
        return sorted(head + tail)
    raise ValueError(f"unknown arrival pattern {pattern!r} (once, uniform, bell)")


def parse_events(buffer: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """Server-sent events in ``buffer``: the complete ``data:`` events as dicts, and
    what is left of an event not yet complete."""
    events = []
    *complete, rest = buffer.split(b"\n\n")
    for block in complete:
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    events.append(json.loads(line[5:].strip() or b"{}"))
                except ValueError:
                    events.append({"unparsed": line[5:].decode("utf-8", "replace")})
    return events, rest


async def student(client: Any, plan: dict[str, Any], who: dict[str, Any], t0: float) -> dict:
    from tornado.httpclient import HTTPRequest

    hub, name, token = plan["hub"], who["name"], who["token"]
    headers = {"Authorization": f"token {token}"}
    out: dict[str, Any] = {"name": name, "arrival": who["at"]}
    await asyncio.sleep(max(0.0, t0 + who["at"] - time.monotonic()))
    asked = time.monotonic()
    out["asked"] = asked - t0
    r = await client.fetch(
        f"{hub}/hub/api/users/{name}/server",
        method="POST",
        headers=headers,
        body=b"{}",
        raise_error=False,
        request_timeout=1200,
    )
    out["post_status"], out["post_s"] = r.code, time.monotonic() - asked
    if r.code not in (201, 202):
        out["error"] = r.body.decode("utf-8", "replace")[:300] if r.body else str(r.error)
        return out
    state: dict[str, Any] = {"buffer": b"", "events": 0, "last": None, "done": None}

    def chunk(data: bytes) -> None:
        events, state["buffer"] = parse_events(state["buffer"] + data)
        for event in events:
            state["events"] += 1
            state["last"] = event.get("message")
            if event.get("ready") or event.get("failed"):
                state["done"] = state["done"] or (time.monotonic(), event)

    await client.fetch(
        HTTPRequest(
            f"{hub}/hub/api/users/{name}/server/progress",
            headers={**headers, "Accept": "text/event-stream"},
            streaming_callback=chunk,
            request_timeout=1200,
        ),
        raise_error=False,
    )
    out["events"], out["last_message"] = state["events"], state["last"]
    if state["done"] is None:
        out["error"] = "the progress stream ended without ready or failed"
        return out
    when, event = state["done"]
    if event.get("failed"):
        out["error"] = event.get("message", "failed")
        return out
    out["ready_s"] = when - asked
    if plan.get("browser"):
        url = event.get("url") or f"/user/{name}/"
        first = time.monotonic()
        codes = []
        for path in LAB_FIRST:
            rr = await client.fetch(
                f"{plan['host']}{url.rstrip('/')}/{path}",
                headers=headers,
                raise_error=False,
                request_timeout=120,
            )
            codes.append(rr.code)
        out["lab_first_s"], out["lab_codes"] = time.monotonic() - first, codes
    return out


async def run_students(plan: dict[str, Any]) -> dict[str, Any]:
    from tornado.httpclient import AsyncHTTPClient

    students = plan["students"]
    client = AsyncHTTPClient(force_instance=True, max_clients=max(10, 2 * len(students)))
    t0 = time.monotonic()
    cpu0 = time.process_time()
    results = await asyncio.gather(*(student(client, plan, s, t0) for s in students))
    client.close()
    return {
        "students": results,
        "wall_s": time.monotonic() - t0,
        "client_cpu_s": time.process_time() - cpu0,
    }


async def run_sampler(url: str, token: str, every: float, stop: Path) -> dict[str, Any]:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True)
    t0, series = time.monotonic(), []
    while not stop.exists() and time.monotonic() - t0 < 1800:
        sent = time.monotonic()
        r = await client.fetch(
            url, headers={"Authorization": f"token {token}"}, raise_error=False, request_timeout=60
        )
        series.append((round(sent - t0, 3), round((time.monotonic() - sent) * 1000, 1), r.code))
        await asyncio.sleep(max(0.0, every - (time.monotonic() - sent)))
    client.close()
    return {"series": series}


def main(argv: list[str]) -> int:
    if argv[:1] == ["students"] and len(argv) == 3:
        plan = json.loads(Path(argv[1]).read_text())
        Path(argv[2]).write_text(json.dumps(asyncio.run(run_students(plan))))
        return 0
    if argv[:1] == ["sample"] and len(argv) == 6:
        url, token, every, stop, result = argv[1:]
        out = asyncio.run(run_sampler(url, token, float(every), Path(stop)))
        Path(result).write_text(json.dumps(out))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

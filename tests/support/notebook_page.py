"""JupyterLab in a browser page, for the browser tests (Playwright): write a notebook
into a student's home through their server's contents API, open it and wait for its
kernel, run a cell and read its output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from hubutil import in_client_thread
from jupyterhub.tests.utils import public_url
from jupyterhub.utils import url_path_join

MS = 1000


async def put_notebook(app, name: str, path: str, sources: list[str]) -> None:
    """Write a notebook into the student's home through their server's contents API."""
    import requests

    user = app.users[name]
    token = user.new_api_token()
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": s,
                "outputs": [],
                "execution_count": None,
            }
            for s in sources
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    url = url_path_join(public_url(app, user), "api/contents", path)
    r = await in_client_thread(
        requests.put,
        url,
        headers={"Authorization": f"token {token}"},
        data=json.dumps({"type": "notebook", "content": nb}),
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text


async def open_notebook(page, url: str, timeout: float = 60, attempts: int = 3) -> int:
    """Open a notebook in JupyterLab and wait until its kernel says Idle in the status
    bar, answering the "Select Kernel" dialog (and the news notice) where JupyterLab
    asks. A kernel still "Connecting" after ``timeout`` s gets the page reloaded, as
    a student would; returns how many loads it took."""
    status = page.locator("#jp-main-statusbar")
    for attempt in range(1, attempts + 1):
        await page.goto(url)
        await page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * MS)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if re.search(r"\| Idle", await status.inner_text()):
                return attempt
            for button in (
                page.locator(".jp-Dialog .jp-mod-accept"),  # Select Kernel: the default
                page.locator(".jp-toast-button", has_text="No"),  # the news notice
            ):
                if await button.count():
                    with contextlib.suppress(Exception):
                        await button.first.click(timeout=2000)
            await asyncio.sleep(0.5)
        print(f"kernel not idle after {timeout} s: {await status.inner_text()!r}; reloading")
    raise AssertionError(f"the kernel never became idle in {attempts} loads")


async def run_cell(page, index: int, timeout: float = 60) -> str:
    """Run the notebook's cell ``index`` (0-based) and return its output text."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    await cell.locator(".jp-InputArea-editor").click()
    await page.keyboard.press("Control+Enter")
    out = cell.locator(".jp-OutputArea-output")
    await out.first.wait_for(timeout=timeout * MS)
    return await out.first.inner_text()

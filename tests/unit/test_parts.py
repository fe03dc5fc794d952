"""The spawners' shape (STYLE.md item 13): one start, its parts called in a visible
order; and the one way a start fails for a reason only an administrator can mend."""

from __future__ import annotations

import logging

import pytest

from jhub_kit.compat import SpawnException, admin_message, admin_must_fix


def test_an_administrators_failure_is_logged_and_the_student_reads_plain_words(caplog):
    log = logging.getLogger("jhub_kit.test_parts")
    with caplog.at_level(logging.ERROR, logger=log.name), pytest.raises(SpawnException) as info:
        try:
            raise KeyError("the cause")
        except KeyError:
            admin_must_fix(log, "Ask your teacher.", "set c.X.y = 1", reason="why")
    e = info.value
    assert e.message == "Ask your teacher."
    assert admin_message(e) == "set c.X.y = 1"
    assert e.status_code == 500 and e.reason == "why"
    assert e.__suppress_context__  # the admin's words say it; no traceback of the cause
    assert [r.getMessage() for r in caplog.records] == ["set c.X.y = 1"]

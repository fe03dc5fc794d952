"""nbgrader's configuration in a course member's server, from the environment the
kit sets (jhub_kit.quota.nbgrader.nbgrader_env). Mounted read-only by jhub_kit at
``~/.jhub-kit/nbgrader/config``, which is on ``JUPYTER_CONFIG_PATH`` (nbgrader's
commands and its server extensions read it) and ``PYTHONPATH`` (the exchange
classes of jhub_kit_nbgrader.py). A user's own ``~/.jupyter/nbgrader_config.py``
is read after it; what a student changes there changes only what their own server
does: the mounts decide what it can reach.
"""

import json
import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (traitlets' loader defines it)

root = os.environ.get("JHUB_KIT_NBGRADER_EXCHANGE")
if root:
    c.Exchange.root = root

taught = json.loads(os.environ.get("JHUB_KIT_NBGRADER_TEACHES") or "[]")
if taught:
    # the teachers' side knows the per-student folders of inbound/ and feedback/
    c.ExchangeFactory.release_assignment = "jhub_kit_nbgrader.KitReleaseAssignment"
    c.ExchangeFactory.collect = "jhub_kit_nbgrader.KitCollect"
    c.ExchangeFactory.release_feedback = "jhub_kit_nbgrader.KitReleaseFeedback"
    c.ExchangeFactory.list = "jhub_kit_nbgrader.KitList"
    # every container runs as one uid: the owner says nothing, the folder does
    c.CollectApp.check_owner = False
    if len(taught) == 1:
        c.CourseDirectory.course_id = taught[0]["course_id"]
        c.CourseDirectory.root = taught[0]["root"]

student = os.environ.get("JHUB_KIT_NBGRADER_STUDENT")
if student:
    c.CourseDirectory.student_id = student

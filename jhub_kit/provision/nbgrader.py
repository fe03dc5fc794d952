"""A course's nbgrader folder on the host (:mod:`jhub_kit.quota.nbgrader`): made by
the course folders' kind of provisioner (with the course's size limit) in a place
of its own, and its folders for one member made in it, owned by the uid the
servers run as.

The kit's exchange classes and ``nbgrader_config.py`` for the servers are files
of this package (:data:`IMAGE_FILES`), mounted read-only into every course
member's server.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from traitlets.config import Config

from .. import offloop
from ..quota.courses import STUDENT, Course
from ..quota.nbgrader import ROOT_OWNED, host_folders
from . import paths
from .base import HomeProvisioner
from .courses import make_course_provisioner, provision_course

#: the files a course member's server gets at ``~/.jhub-kit/nbgrader/config``
IMAGE_FILES = str(Path(__file__).with_name("nbgrader_image"))
#: nbgrader folders' volumes on LVM (course folders' are ``jhubcourse-``)
LV_PREFIX = "jhubnbgrader-"


def nbgrader_base_dir(course_base_dir: str) -> str:
    """Where the courses' nbgrader folders live: beside the course folders
    (``/srv/jupyterhub/courses-nbgrader`` for ``/srv/jupyterhub/courses``)."""
    return posixpath.normpath(course_base_dir) + "-nbgrader"


def make_nbgrader_provisioner(
    folders: HomeProvisioner, *, config: Config, log: Any = None
) -> HomeProvisioner:
    """The nbgrader folders' provisioner: the course folders' kind and settings
    (``folders``), in :func:`nbgrader_base_dir` of theirs, with a state file of its own."""
    return make_course_provisioner(
        folders,
        config=config,
        base_dir=nbgrader_base_dir(folders.base_dir),
        log=log,
        lv_prefix=LV_PREFIX,
    )


async def prepare_nbgrader(prov: HomeProvisioner, course: Course, role: str, user: str) -> str:
    """Make (or find) ``course``'s nbgrader folder and, in it, what ``user`` (``role``)
    needs: the exchange and the staff folder, and a student's own inbound and
    feedback folders; each made without following a link, for the provisioner's
    ``uid``/``gid``, or root's (:data:`~jhub_kit.quota.nbgrader.ROOT_OWNED`: the
    folders that hold the students' own). The folder's path on the host."""
    mount = await provision_course(prov, course)
    students = [user] if role == STUDENT else []
    for rel in host_folders(students):
        uid, gid = (0, 0) if rel in ROOT_OWNED else (prov.uid, prov.gid)
        await offloop.run_io(paths.make_dirs, mount.source, rel, uid=uid, gid=gid)
    return mount.source

"""The course folders' provisioner: the homes' own kind, in a place of its own.

Each course (:mod:`jhub_kit.quota.courses`) gets one folder on the host, made by
the same kind of provisioner as the homes (a loopfile home hub gives each course
an image file of its ``size_limit``) and shared by its members' servers. It is a
second provisioner object with its own ``base_dir`` and state file, so a course
is never listed, archived or removed as a user's home and a course named like a
user never meets that user's home; on LVM, where the volume group is shared, its
volumes' names start with ``jhubcourse-`` (a user's with ``jhub-``).
"""

from __future__ import annotations

import posixpath
from typing import Any

from traitlets.config import Config

from ..quota.courses import Course
from ..quota.policy import Quota
from . import provisioner_class
from .base import HomeMount, HomeProvisioner, ProvisionError

#: the kinds that cannot make a course folder: why, in words
REFUSED = {
    "DockerVolumeProvisioner": "a named volume per home, no folder on the host to share",
    "SystemUserProvisioner": "each home belongs to its own system account",
}
#: course volumes' names on LVM (users' are ``jhub-...``: never the same)
LV_PREFIX = "jhubcourse-"


def course_base_dir(home_base_dir: str) -> str:
    """The default place of the course folders: ``courses`` beside the homes'."""
    parent = posixpath.dirname(posixpath.normpath(home_base_dir)) or "/"
    return posixpath.join(parent, "courses")


def make_course_provisioner(
    kind: str | HomeProvisioner,
    *,
    config: Config,
    base_dir: str = "",
    log: Any = None,
    lv_prefix: str = "",
) -> HomeProvisioner:
    """A provisioner of ``kind`` (a short name, a class path or the homes' own
    provisioner object, whose settings it copies) for the course folders: in
    ``base_dir`` (empty: :func:`course_base_dir` of the homes'), with a state file
    of its own; on LVM, volumes named ``lv_prefix`` + name (default :data:`LV_PREFIX`).
    :class:`ProvisionError` for a kind that cannot make them."""
    if isinstance(kind, HomeProvisioner):
        cls: type[HomeProvisioner] = type(kind)
        settings = {n: getattr(kind, n) for n in kind.trait_names(config=True)}
        home_base = kind.base_dir
    else:
        cls = provisioner_class(kind)
        settings = {}
        home_base = cls(config=config).base_dir
    for refused, why in REFUSED.items():
        if any(c.__name__ == refused for c in cls.__mro__):
            raise ProvisionError(
                f"{cls.__name__} cannot make course folders ({why}); set c.Courses.provisioner "
                'to "loopfile", "btrfs" or "lvm" (a size limit) or "directory" (none)'
            )
    settings.update(
        base_dir=base_dir or course_base_dir(home_base),
        state_mirror="",  # beside the courses' base_dir, never the homes' copy
    )
    if "lv_prefix" in cls.class_trait_names():
        settings["lv_prefix"] = lv_prefix or LV_PREFIX
    if log is not None:
        settings["log"] = log
    # keyword arguments win over the config (traitlets' Configurable)
    return cls(config=config, **settings)


async def provision_course(prov: HomeProvisioner, course: Course) -> HomeMount:
    """Make (or find) ``course``'s folder, sized by its ``size_limit`` (none: the
    provisioner's ``default_size``; a ``directory`` folder has no limit), kept under
    the course's name (its folder on the host: its safe name)."""
    mount = await prov.provision(course.name, Quota(disk_limit=course.size_limit))
    if mount.type != "bind":
        raise ProvisionError(
            f"course {course.name}: {type(prov).__name__} made a {mount.type}, not a folder "
            "on the host; set c.Courses.provisioner to a provisioner of folders"
        )
    return mount

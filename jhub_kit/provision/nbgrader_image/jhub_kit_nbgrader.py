"""nbgrader's exchange for a teacher's server where each student's submissions and
feedback are a folder of their own (jhub_kit.quota.nbgrader): ``inbound/<student>/``
and ``feedback/<student>/`` under the course's exchange. A student's server mounts
only its own two, where nbgrader's stock classes work unchanged; a teacher's sees
them all, and these three subclasses know the extra level:

- :class:`KitCollect` collects ``inbound/<student>/<student>+<assignment>+...`` and
  takes a submission only when the name inside matches the folder (a student who
  submits as someone else, ``--student=ben``, is refused with a warning), and only
  when it holds folders and regular files only: no symbolic link (a link to the
  teacher's solutions would otherwise be copied, graded and returned as feedback),
  no FIFO (copying one would hang the collect);
- :class:`KitReleaseFeedback` writes each student's feedback into their own folder;
- :class:`KitList` lists ``--inbound`` across the students' folders;
- :class:`KitReleaseAssignment` (and release_feedback) take the folders the kit
  made as they are: ``inbound/`` and ``feedback/`` belong to root, so that a
  teacher writes in each student's folder but cannot replace one.

Runs in the single-user image (it needs nbgrader, nothing of jhub_kit), mounted
read-only with the kit's ``nbgrader_config.py``.
"""

import glob
import os
import re
import shutil
import stat

from jhub_kit_safecopy import UnsafeSubmission, copy_submission
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default import (
    ExchangeCollect,
    ExchangeList,
    ExchangeReleaseAssignment,
    ExchangeReleaseFeedback,
)
from nbgrader.utils import ignore_patterns, parse_utc


def usable_student_id(name):
    """Whether ``name`` can name a student's folder (one path component, no '+')."""
    return bool(name) and name not in (".", "..") and not any(ch in name for ch in "/+*\0")


def only_files(path):
    """Whether ``path`` is a folder of folders and regular files only: no symbolic
    link (never followed), no FIFO (reading one would hang the teacher's collect),
    socket or device."""
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        return False
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            mode = os.lstat(os.path.join(dirpath, name)).st_mode
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                return False
    return True


class KitCollect(ExchangeCollect):
    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        wanted = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(self.inbound_path, wanted, f"*+{self.coursedir.assignment_id}+*")
        groups: dict = {}
        for path in sorted(glob.glob(pattern)):
            rec = self._kit_record(path)
            if rec is not None:
                groups.setdefault(rec["username"], []).append(rec)

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = []
        for records in groups.values():
            records = self._sort_by_timestamp(records)
            if self.duedate is not None and self.before_duedate:
                before = [r for r in records if r["timestamp"] <= self.duedate]
                records = before or records
            self.src_records.append(records[0])

    def _kit_record(self, path):
        """The submission at ``path`` (``inbound/<folder>/<name>``) as nbgrader's
        record, its filename relative to inbound/; None (and a warning) when it
        cannot be the folder's student's."""
        folder = os.path.basename(os.path.dirname(path))
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        if not usable_student_id(folder) or len(parts) < 3:
            self.log.warning("Skipping %s: not a submission's name", path)
            return None
        student = parts[0]
        if student != folder:
            self.log.warning(
                "Skipping %s: it says it is %s's, but it is in %s's folder", path, student, folder
            )
            return None
        if not only_files(path):
            self.log.warning(
                "Skipping %s: a submission holds folders and files only (no links)", path
            )
            return None
        try:
            timestamp = parse_utc(parts[2])
        except Exception:
            self.log.warning("Skipping %s: %r is not a time", path, parts[2])
            return None
        return {
            "username": student,
            "filename": os.path.join(folder, name),
            "timestamp": timestamp,
        }

    def do_copy(self, src, dest, log=None):
        """Copy a submission as it is when copied, not as it was when checked
        (jhub_kit_safecopy): a link or FIFO swapped in since refuses it; the
        partial copy is removed and the collect goes on with the next student."""
        dir_size = self.get_size(src)
        if dir_size > 1000 * self.coursedir.max_dir_size:
            self.log.error("Directory size is too big")
            raise RuntimeError(
                f"Directory size is too big. Size is {dir_size}, "
                f"maximum size is {1000 * self.coursedir.max_dir_size}"
            )
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        try:
            copy_submission(src, dest, ignore)
        except UnsafeSubmission as e:
            shutil.rmtree(dest, ignore_errors=True)
            self.log.warning("Skipping %s: %s (folders and regular files only)", src, e)


class KitFolders:
    """The exchange's folders are the kit's: one that exists is used as it is
    (nbgrader's own check wants each owned by the teacher)."""

    def ensure_directory(self, path, mode):
        if not os.path.isdir(path):
            super().ensure_directory(path, mode)  # type: ignore[misc]  # nbgrader's Exchange


class KitReleaseAssignment(KitFolders, ExchangeReleaseAssignment):
    pass


class KitReleaseFeedback(KitFolders, ExchangeReleaseFeedback):
    def copy_files(self):
        # one student at a time, into their own folder (nbgrader's own copy_files
        # releases everyone's into one folder, named by hashes)
        wanted = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = self.coursedir.format_path(
            self.coursedir.feedback_directory, wanted, self.coursedir.assignment_id
        )
        feedback = self.outbound_feedback_path
        for src in sorted(glob.glob(pattern)):
            student = self._student_of(src)
            if student is None:
                continue
            dest = os.path.join(feedback, student)
            if os.path.islink(dest) or not os.path.isdir(dest):
                # the kit makes it when the student's server starts
                self.log.warning("Skipping %s: no feedback folder %s", student, dest)
                continue
            self.src_path = src
            self.dest_path = dest
            super().copy_files()

    def _student_of(self, src):
        regexp = self.coursedir.format_path(
            self.coursedir.feedback_directory,
            "(?P<student_id>[^/]+)",
            self.coursedir.assignment_id,
            escape=True,
        )
        m = re.fullmatch(regexp, src)
        student = m.group("student_id") if m else None
        if not usable_student_id(student):
            self.log.warning("Skipping %s: no student's folder for it", src)
            return None
        return student


class KitList(ExchangeList):
    _INBOUND = (
        r".*/(?P<course_id>[^/]*)/inbound/[^/]+/(?P<student_id>[^+/]*)\+"
        r"(?P<assignment_id>[^+]*)\+(?P<timestamp>[^+]*)(?P<random_string>\+.*)?"
    )

    def init_dest(self):
        super().init_dest()
        if self.inbound:
            course_id = self.coursedir.course_id or "*"
            assignment_id = self.coursedir.assignment_id or "*"
            student_id = self.coursedir.student_id or "*"
            pattern = os.path.join(
                self.root, course_id, "inbound", student_id, f"{student_id}+{assignment_id}+*"
            )
            self.assignments = sorted(glob.glob(pattern))

    def parse_assignment(self, assignment):
        if not self.inbound:
            return super().parse_assignment(assignment)
        m = re.match(self._INBOUND, assignment)
        if m is None:
            raise RuntimeError(f"Could not match {assignment!r} with {self._INBOUND!r}")
        return m.groupdict()

"""The warm pool: servers started before class, each given to one student.

:mod:`.members` keeps the members (Docker, mounts), :mod:`.launcher` runs
inside each one, :mod:`.schedule` holds the class times (pure rules), and
:mod:`.mixin` is the spawner's side of a pooled start.
"""

"""The hub's event loop, as the kit watches it: its lag and stalls (:mod:`.health`)
and the gate that admits starts one at a time while it is late (:mod:`.admission`).
A small shared service: the spawners and the pool both use it."""

"""How servers reach the hub, and nothing else.

:mod:`.hub_address` works out the Hub API's address for containers (facts,
then a pure decision), :mod:`.firewall` writes the isolation rules,
:mod:`.watch` follows a hub in a container, :mod:`.hardening` holds the secure
container defaults and :mod:`.mixin` is the spawner's side of all of them.
"""

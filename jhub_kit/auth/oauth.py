"""OAuthenticators with the userlist (GitHub as in jupyterhub-deploy-docker, and generic)."""

from __future__ import annotations

from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.github import GitHubOAuthenticator

from .authenticators import UserlistMixin


class _FileGroupsOnly:
    """With ``manage_groups`` on and no ``auth_state_groups_key``, OAuthenticator
    crashes looking the key up; the userlist supplies the groups instead."""

    async def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        if not self.auth_state_groups_key:  # type: ignore[attr-defined]
            return set()
        return await super().get_user_groups(auth_state)  # type: ignore[misc]


class UserlistGitHubOAuthenticator(UserlistMixin, _FileGroupsOnly, GitHubOAuthenticator):
    """GitHub OAuth limited to the userlist (GitHub usernames, lowercased)."""


class UserlistGenericOAuthenticator(UserlistMixin, _FileGroupsOnly, GenericOAuthenticator):
    """Any OAuth2/OIDC provider, limited to the userlist."""

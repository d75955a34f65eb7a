"""OAuth 2.0 for the FHIR API (SMART App Launch v2, Backend Services): the discovery document, the
token endpoint for system clients (client credentials with a shared secret or a signed JWT
assertion), and a page where a logged-in user issues a personal token for a sync tool.

Included under `fhir/`:

- `GET  .well-known/smart-configuration`: what a client needs to find the token endpoint;
- `POST auth/token`: `grant_type=client_credentials` answered with a bearer token of 15 minutes;
- `GET|POST auth/user-token`: personal tokens of the logged-in user (issue, list, revoke).

Every token is random; only its SHA-256 is stored (`AccessToken.token_hash`), and
`farcare.fhir.auth.authenticate` finds it again. Client secrets are stored with the project's
password hasher.

Replayed assertions: the `jti` of every accepted JWT assertion is remembered in Django's cache
until the assertion expires. The default cache is local to one process, so a deployment that
runs several worker processes must configure a shared cache (CACHES, e.g. Redis or the database
cache); otherwise an assertion could be replayed once against each process.
"""

from django.urls import path

from .clients import ClientSetupError, NewClient, system_client_create, system_client_disable
from .discovery import smart_configuration
from .grants import grantable_scopes, valid_scope
from .paths import SMART_CONFIGURATION_PATH, TOKEN_PATH, USER_TOKEN_PATH
from .token_endpoint import OAuthError, issue_token, token_endpoint
from .user_tokens import revoke_on_password_change, revoke_user_tokens, user_tokens

urlpatterns = [
    path(SMART_CONFIGURATION_PATH, smart_configuration, name="smart_configuration"),
    path(TOKEN_PATH, token_endpoint, name="token"),
    path(USER_TOKEN_PATH, user_tokens, name="user_tokens"),
]

__all__ = [
    "ClientSetupError",
    "NewClient",
    "OAuthError",
    "grantable_scopes",
    "issue_token",
    "revoke_on_password_change",
    "revoke_user_tokens",
    "system_client_create",
    "system_client_disable",
    "urlpatterns",
    "valid_scope",
]

"""Bearer tokens for the API and the two middlewares that honour them.

A token is `django.core.signing.dumps({"uid", "pwd"})` with our salt: signed with SECRET_KEY, timestamped, and
checked with `max_age=settings.AUTH_TOKEN_TTL`. `pwd` is an HMAC of the password hash, so changing the password
revokes every token issued before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.functional import SimpleLazyObject

from accounts.selectors import user_get_active
from core.errors import UNAUTHENTICATED, DomainError

if TYPE_CHECKING:
    from django.http import HttpRequest

    from accounts.models import User

TOKEN_SALT = "runam.auth.token"
_PASSWORD_SALT = "runam.auth.token.password"


def token_for_user(user: User) -> str:
    """A signed, expiring token for `user` (see module docstring)."""
    return signing.dumps({"uid": user.pk, "pwd": _password_fingerprint(user)}, salt=TOKEN_SALT)


def user_from_token(token: str) -> tuple[User | None, str | None]:
    """(user, None) for a valid token; (None, a message a client can show) otherwise. One query when valid."""
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=settings.AUTH_TOKEN_TTL)
    except signing.SignatureExpired:
        return None, "The token has expired."
    except (signing.BadSignature, ValueError):
        return None, "The token is invalid."
    if not isinstance(payload, dict) or not isinstance(payload.get("uid"), int):
        return None, "The token is invalid."
    user = user_get_active(user_id=payload["uid"])
    if user is None or not constant_time_compare(str(payload.get("pwd")), _password_fingerprint(user)):
        return None, "The token has been revoked."
    return user, None


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer <token>` header ("" when empty), or None without one."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def require_viewer(request: HttpRequest) -> User:
    """The signed-in user, or an UNAUTHENTICATED DomainError saying why (and what went wrong with a bad token)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    auth_error = getattr(request, "auth_error", None)
    if auth_error:
        raise DomainError(UNAUTHENTICATED, f"{auth_error} Sign in again with tokenAuth.")
    raise DomainError(
        UNAUTHENTICATED,
        "Authentication required: send 'Authorization: Bearer <token>' (from tokenAuth) or log in at /admin/.",
    )


def _password_fingerprint(user: User) -> str:
    return salted_hmac(_PASSWORD_SALT, user.password, algorithm="sha256").hexdigest()[:32]


class BearerTokenMiddleware:
    """Marks requests that CSRF cannot ride on as exempt; must run before CsrfViewMiddleware.

    - A request with a bearer token: browsers never add that header by themselves.
    - A request to the GraphQL endpoint without a session cookie: it carries no ambient credentials. Other paths
      (the admin login form) keep Django's protection even without a session.
    A request with a session cookie and no bearer token keeps full CSRF protection.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if bearer_token(request) is not None or (
            settings.SESSION_COOKIE_NAME not in request.COOKIES and request.path_info == reverse("graphql")
        ):
            request._dont_enforce_csrf_checks = True
        return self.get_response(request)


class TokenUserMiddleware:
    """Sets request.user from a bearer token; must run after AuthenticationMiddleware.

    A bearer token wins over a session. A bad, expired or revoked token makes the request anonymous and sets
    `request.auth_error` to a message the API repeats where authentication is needed.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.auth_error = None
        token = bearer_token(request)
        if token is not None:
            # Lazily: a request whose answer does not depend on the viewer (a public cache hit) costs no query.
            checked = SimpleLazyObject(
                lambda: user_from_token(token) if token else (None, "The bearer token is empty.")
            )
            request.user = SimpleLazyObject(lambda: checked[0] or AnonymousUser())
            request.auth_error = SimpleLazyObject(lambda: checked[1] or "")
        return self.get_response(request)

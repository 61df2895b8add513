"""Password hashing: Argon2id for new passwords, older hashes still accepted and upgraded at sign-in."""

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password
from django.test import override_settings

from accounts.models import User
from core.factories import UserFactory
from tests.fixtures.api import ApiClient, get_graphql_content

pytestmark = pytest.mark.django_db

HASHERS = [
    "accounts.hashers.RunAmArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
TOKEN_AUTH = 'mutation { tokenAuth(username: "ada", password: "s3cret-pass") { token errors { code } } }'


@override_settings(PASSWORD_HASHERS=HASHERS)
def test_new_passwords_are_argon2id_at_owasp_settings():
    # when
    encoded = make_password("s3cret-pass")

    # then: argon2id, 19 MiB, 2 passes, 1 lane
    assert identify_hasher(encoded).algorithm == "argon2"
    assert "$argon2id$" in encoded
    assert "$m=19456,t=2,p=1$" in encoded


def test_a_pbkdf2_password_signs_in_and_is_upgraded():
    # given: a password stored by the old default
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        user = UserFactory(username="ada", password="s3cret-pass")
    assert user.password.startswith("pbkdf2_sha256$")

    # when
    with override_settings(PASSWORD_HASHERS=HASHERS):
        token = get_graphql_content(ApiClient().post_graphql(TOKEN_AUTH))["data"]["tokenAuth"]["token"]

    # then
    assert token
    assert "$argon2id$v=19$m=19456,t=2,p=1$" in User.objects.get(pk=user.pk).password

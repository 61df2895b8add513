import pytest
from django.db import IntegrityError, transaction

from accounts.models import User, UserProfile
from core.factories import BankFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_new_user_gets_a_profile():
    # when
    user = User.objects.create_user("newcomer", password="s3cret-pass!")

    # then
    assert UserProfile.objects.filter(user=user).count() == 1
    assert user.profile.country == ""


def test_a_bank_code_is_unique_within_a_country_only():
    # given
    BankFactory(country="NG", code="044")
    BankFactory(country="GH", code="044")

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        BankFactory._meta.model.objects.create(country="NG", code="044", name="Duplicate")


def test_the_user_factory_sets_profile_fields():
    # when
    user = UserFactory(profile__country="KE", profile__phone="+254712345678")

    # then
    user.profile.refresh_from_db()
    assert (user.profile.country, user.profile.phone) == ("KE", "+254712345678")

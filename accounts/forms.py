"""The admin sign-in form, throttled like tokenAuth (docs/security.md, "Login throttling")."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from accounts.services import login_attempt_begin
from core.throttle import Throttled


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """Django's admin form, with each attempt counted before its password is checked (same limits and counters
    as tokenAuth). Django's own checks run unchanged in super().clean()."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # nothing will be checked: Django reports the missing field
        try:
            attempt = login_attempt_begin(request=self.request, username=username)
        except Throttled as error:
            raise ValidationError(error.message, code="throttled") from error
        try:
            return super().clean()
        finally:
            if self.user_cache is not None:  # the password was right (even if the user is not staff)
                attempt.refund()

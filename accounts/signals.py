from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import User
from accounts.services import profile_ensure


@receiver(post_save, sender=User, dispatch_uid="accounts.create_profile")
def create_profile(sender, instance: User, created: bool, raw: bool = False, **kwargs) -> None:
    # Every user has a profile from birth; fixtures being loaded (raw) bring their own.
    if created and not raw:
        profile_ensure(user=instance)

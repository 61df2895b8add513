from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.forms import ThrottledAdminAuthenticationForm
from accounts.models import Bank, Role, User, UserProfile

# /admin/login/ counts attempts against the same limits as tokenAuth.
admin.site.login_form = ThrottledAdminAuthenticationForm


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    autocomplete_fields = ("role", "bank")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    inlines = (UserProfileInline,)
    list_display = ("username", "email", "profile__country", "profile__role", "is_staff", "is_active", "date_joined")
    list_select_related = ("profile__role",)
    list_filter = ("is_staff", "is_superuser", "is_active", "profile__country", "profile__role")

    def get_inlines(self, request, obj):
        # On "add" the post_save signal creates the profile; an inline there would try to create a second one.
        return self.inlines if obj is not None else ()


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "country", "phone", "role", "bank", "account_number")
    list_select_related = ("user", "role", "bank")
    list_filter = ("country", "role")
    search_fields = ("user__username", "user__email", "phone", "account_number")
    autocomplete_fields = ("user", "role", "bank")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    search_fields = ("name", "description")


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "country")
    list_filter = ("country",)
    search_fields = ("name", "code")

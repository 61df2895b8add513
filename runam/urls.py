from django.contrib import admin
from django.urls import path

from core.views import RunAmGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", RunAmGraphQLView.as_view(), name="graphql"),
]

from django.contrib import admin
from django.urls import path

from core.graphql.view import GraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/", GraphQLView.as_view(), name="graphql"),
]

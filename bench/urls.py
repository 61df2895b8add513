from django.urls import path

from bench.server import limit_view
from runam.urls import urlpatterns as app_urlpatterns

urlpatterns = [*app_urlpatterns, path("bench/limit/", limit_view, name="bench-limit")]

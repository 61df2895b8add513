from django.apps import AppConfig


class ErrandsConfig(AppConfig):
    name = "errands"

from django.apps import AppConfig


class EscrowsConfig(AppConfig):
    name = "escrows"

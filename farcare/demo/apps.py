from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "farcare.demo"
    label = "demo"
    verbose_name = "Demo network"

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "alerts"

    def ready(self) -> None:
        # Models load after apps.py: what the registration needs is imported once they have.
        from segments.uses import register_segment_use  # noqa: PLC0415

        from .selectors import subscriptions_on_segment  # noqa: PLC0415

        register_segment_use(
            subscriptions_on_segment,
            message="Used by the alert subscriptions {names}: change or delete them first.",
        )

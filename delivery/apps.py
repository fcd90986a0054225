from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"
    verbose_name = "Delivery of surveys"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Models load after apps.py: what the registration needs is imported once they have.
        from segments.uses import register_segment_use  # noqa: PLC0415

        from .selectors import surveys_targeting_segment  # noqa: PLC0415

        register_segment_use(
            surveys_targeting_segment,
            message="Used by the web targeting of {names}: change their targeting first.",
        )

from django.contrib import admin

from .models import AlertDigest, AlertSent, AlertSubscription


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "environment", "user", "trigger", "frequency", "active")
    list_filter = ("trigger", "frequency", "active")
    raw_id_fields = ("environment", "user", "survey", "segment")


@admin.register(AlertSent)
class AlertSentAdmin(admin.ModelAdmin):
    list_display = ("subscription", "kind", "object_id", "status", "attempts", "created_at")
    list_filter = ("status", "kind")
    raw_id_fields = ("subscription",)


@admin.register(AlertDigest)
class AlertDigestAdmin(admin.ModelAdmin):
    list_display = ("subscription", "period_start", "status", "attempts")
    list_filter = ("status",)
    raw_id_fields = ("subscription",)

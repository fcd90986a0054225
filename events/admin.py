from django.contrib import admin

from .models import Event, EventDefinition


@admin.register(EventDefinition)
class EventDefinitionAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "total_count", "last_seen_at"]
    list_filter = ["environment"]
    search_fields = ["name"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["definition", "profile", "timestamp", "message_id"]
    raw_id_fields = ["profile", "definition"]
    show_full_result_count = False

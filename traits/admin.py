from django.contrib import admin

from .models import Trait


@admin.register(Trait)
class TraitAdmin(admin.ModelAdmin):
    list_display = ["key", "label", "data_type", "scope", "environment", "hidden", "last_seen_at"]
    list_filter = ["environment", "scope", "data_type"]
    search_fields = ["key", "label"]

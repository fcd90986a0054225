from django.contrib import admin

from .models import MonthlyActivity, Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["uuid", "environment", "user_id", "email", "anonymous_id", "last_seen_at"]
    list_filter = ["environment"]
    search_fields = ["user_id", "email", "anonymous_id"]
    show_full_result_count = False  # no COUNT(*) over a large table on every page


@admin.register(MonthlyActivity)
class MonthlyActivityAdmin(admin.ModelAdmin):
    list_display = ["environment", "profile", "month"]
    raw_id_fields = ["profile"]
    show_full_result_count = False

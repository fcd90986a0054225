from django.contrib import admin

from .models import ApiKey, Environment, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "public_key", "identity_verification", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "environment", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["environment"]
    readonly_fields = ["prefix", "hashed_key", "created_at", "last_used_at"]

from django.contrib import admin

from .models import Segment, SegmentMembership


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "kind", "member_count", "computed_at", "status"]
    list_filter = ["environment", "kind"]


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(admin.ModelAdmin):
    list_display = ["segment", "profile", "since"]
    raw_id_fields = ["profile", "segment"]
    show_full_result_count = False

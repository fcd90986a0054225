from django.contrib import admin

from .models import Question, Response, Survey


class QuestionInline(admin.StackedInline):
    model = Question
    extra = 0


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "status", "mode", "published_at"]
    list_filter = ["environment", "status"]
    inlines = [QuestionInline]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["uuid", "survey", "profile", "channel", "completed_at", "created_at"]
    raw_id_fields = ["profile", "survey"]
    show_full_result_count = False

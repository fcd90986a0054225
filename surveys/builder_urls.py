"""The survey builder (dashboard, `/e/<env>/surveys/...`) and the public survey pages (`/s/...`)."""

from django.urls import path, re_path

from . import public_views, views

urlpatterns = [
    # Public pages: no login, the survey found by its unguessable public id.
    path("s/<str:public_id>/", public_views.survey_link, name="link"),
    path("s/<str:public_id>/go/", public_views.survey_link_cta, name="link_cta"),
    path("s/<str:public_id>/email/", public_views.survey_email_answer, name="email_answer"),
    # Any other address under /s/ (a truncated or mangled link): the same clear page.
    re_path(r"^s/(?P<rest>.*)$", public_views.survey_link_not_found),
    # The builder.
    path("e/<slug:env>/surveys/", views.survey_list, name="list"),
    path("e/<slug:env>/surveys/new/", views.survey_new, name="new"),
    path("e/<slug:env>/surveys/<uuid:uuid>/", views.survey_detail, name="detail"),
    path("e/<slug:env>/surveys/<uuid:uuid>/settings/", views.survey_settings, name="settings"),
    path("e/<slug:env>/surveys/<uuid:uuid>/status/", views.survey_status, name="status"),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/duplicate/", views.survey_duplicate_view, name="duplicate"
    ),
    path("e/<slug:env>/surveys/<uuid:uuid>/thank-you/", views.survey_thank_you, name="thank_you"),
    path("e/<slug:env>/surveys/<uuid:uuid>/email/", views.survey_email, name="email"),
    path("e/<slug:env>/surveys/<uuid:uuid>/preview/", views.survey_preview, name="preview"),
    path("e/<slug:env>/surveys/<uuid:uuid>/questions/", views.question_create, name="question_add"),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/questions/reorder/",
        views.question_reorder,
        name="question_reorder",
    ),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/questions/<int:question_id>/",
        views.question_edit,
        name="question",
    ),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/questions/<int:question_id>/move/",
        views.question_move_view,
        name="question_move",
    ),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/questions/<int:question_id>/delete/",
        views.question_delete_view,
        name="question_delete",
    ),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/questions/<int:question_id>/preview/",
        views.question_preview,
        name="question_preview",
    ),
]

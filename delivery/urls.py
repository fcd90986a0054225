from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    path("e/<slug:env>/surveys/<uuid:uuid>/web/", views.targeting, name="targeting"),
    path("e/<slug:env>/surveys/<uuid:uuid>/web/resample/", views.resample, name="resample"),
    path("e/<slug:env>/surveys/<uuid:uuid>/web/test/", views.test_targeting, name="test"),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/web/translations/",
        views.translation_pick,
        name="translation_pick",
    ),
    path(
        "e/<slug:env>/surveys/<uuid:uuid>/web/translations/<str:locale>/",
        views.translation,
        name="translation",
    ),
    path(
        "e/<slug:env>/users/<uuid:profile_uuid>/surveys/",
        views.profile_surveys,
        name="profile_surveys",
    ),
    path("e/<slug:env>/settings/web/", views.settings_page, name="settings"),
]

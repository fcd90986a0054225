from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("e/<slug:env>/users/<uuid:uuid>/export/", views.contact_export, name="contact_export"),
    path("e/<slug:env>/users/<uuid:uuid>/erase/", views.contact_erase, name="contact_erase"),
    path("e/<slug:env>/settings/audit-log/", views.audit_log, name="audit_log"),
    path("e/<slug:env>/settings/erasures/", views.erasure_log, name="erasures"),
]

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "environments"

urlpatterns = [
    path("", views.home, name="root"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path(
        "set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="environments/set_password.html",
            post_reset_login=True,
            # Named, as more than one backend is configured (the login throttle's is first).
            post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
            success_url="/",
        ),
        name="password_set",
    ),
    path("e/<slug:env>/", views.environment_home, name="home"),
    path("e/<slug:env>/settings/", views.settings_page, name="settings"),
    path("e/<slug:env>/settings/api-keys/", views.api_key_create, name="api_key_create"),
    path(
        "e/<slug:env>/settings/api-keys/<int:pk>/revoke/",
        views.api_key_revoke,
        name="api_key_revoke",
    ),
    path(
        "e/<slug:env>/settings/identity/",
        views.identity_verification,
        name="identity_verification",
    ),
    path(
        "e/<slug:env>/settings/identity/secret/",
        views.identity_secret_regenerate,
        name="identity_secret_regenerate",
    ),
    path("e/<slug:env>/settings/members/", views.member_add, name="member_add"),
    path("e/<slug:env>/settings/members/<int:pk>/role/", views.member_role, name="member_role"),
    path(
        "e/<slug:env>/settings/members/<int:pk>/remove/",
        views.member_remove,
        name="member_remove",
    ),
]

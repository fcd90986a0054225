from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "environments"

urlpatterns = [
    path("", views.home, name="root"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("e/<slug:env>/", views.environment_home, name="home"),
]

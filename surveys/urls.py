"""The surveys namespace gathers two sets of pages: the builder and public survey links
(surveys/builder_urls.py) and the reports, Overview and Response List (surveys/report_urls.py)."""

from .builder_urls import urlpatterns as builder_urlpatterns
from .report_urls import urlpatterns as report_urlpatterns

app_name = "surveys"

urlpatterns = builder_urlpatterns + report_urlpatterns

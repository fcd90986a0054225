"""core.widgets.LongSelect renders what Django's Select renders (it only skips the template per
option), escapes what it is given, and marks the chosen option."""

from __future__ import annotations

import pytest
from django import forms
from django.test import SimpleTestCase

from core.widgets import LongSelect
from environments.forms import EnvironmentForm

CHOICES = [
    ("", "Instance default"),
    ("Europe/Paris", "Europe/Paris"),
    ("America/New_York", "America/New York"),
    ('"><script>x</script>', "<b>&amp;</b>"),
]


@pytest.mark.parametrize("value", [None, "", "Europe/Paris", '"><script>x</script>', "Nowhere"])
def test_the_same_markup_as_django_select(value):
    attrs = {"aria-describedby": "help", "id": "id_zone"}
    ours = LongSelect(attrs=attrs, choices=CHOICES).render("zone", value)
    django = forms.Select(attrs=attrs, choices=CHOICES).render("zone", value)
    SimpleTestCase().assertHTMLEqual(ours, django)
    assert "<script>" not in ours and "<b>" not in ours


def test_the_settings_form_marks_the_environment_zone(db):
    form = EnvironmentForm(initial={"name": "Prod", "time_zone": "America/New_York"})
    html = str(form["time_zone"])
    assert html.count("<option") > 300
    assert html.count(" selected") == 1
    assert '<option value="America/New_York" selected>America/New York</option>' in html
    assert 'aria-describedby="time_zone_help"' in html and 'id="id_time_zone"' in html

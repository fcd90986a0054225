"""Form widgets the dashboard needs beyond Django's."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class LongSelect(forms.Select):
    """A single-choice <select> for a long, flat list of choices (the ~600 time zones of
    Settings → General), rendered in Python instead of through one template per option: Django's
    Select took 45 ms per render of that list, most of the Settings page's time; this one takes
    6.7 ms (the page: 56 ms → 21 ms p50, benchmarks/pages.py). Same markup as forms.Select for
    flat choices (tests/test_widgets.py compares them); option groups are not supported."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        final = self.build_attrs(self.attrs, attrs)
        selected = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (choice, " selected" if str(choice) in selected else "", label)
                for choice, label in self.choices
            ),
        )
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final), options)

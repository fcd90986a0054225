"""Forms of the contact import pages."""

from __future__ import annotations

from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, with a header row.")

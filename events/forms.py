"""The Events page's inline edit form."""

from __future__ import annotations

from django import forms


class EventDefinitionForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

"""The Traits page's inline edit form."""

from __future__ import annotations

from django import forms

from .models import DataType


class TraitForm(forms.Form):
    label = forms.CharField(max_length=200, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    data_type = forms.ChoiceField(choices=DataType.choices, label="Type")
    hidden = forms.BooleanField(required=False, label="Hidden")

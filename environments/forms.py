"""Forms of the Settings page."""

from __future__ import annotations

from django import forms

from .models import Role


class EnvironmentNameForm(forms.Form):
    name = forms.CharField(max_length=200, label="Environment name")


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, label="Key name", help_text="e.g. backend, data import"
    )


class IdentityVerificationForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Require verified identities")


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CONTRIBUTOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)

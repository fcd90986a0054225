"""Template helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token, token_kwargs
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from core.humanize import time_ago
from core.once import once_field

register = template.Library()


@register.filter
def ago(value: Any) -> str:
    """{{ when|ago }}: "just now", "5 minutes ago", "8 hours ago" (core.humanize.time_ago)."""
    return time_ago(value)


# Reversed once per render with this uuid in place of the profile's, then filled in: a list of
# 100 respondents reversed 100 URLs (about 3 ms of a page budgeted 50 ms).
_ANY_UUID = "00000000-0000-0000-0000-000000000000"


@register.simple_tag(takes_context=True)
def eurl(context: template.Context, name: str, **kwargs: Any) -> str:
    """{% eurl "profiles:detail" pk=profile.pk %}: a dashboard URL in the current environment."""
    request = context["request"]
    return reverse(name, kwargs={"env": request.environment.slug, **kwargs})


@register.simple_tag(takes_context=True)
def user_link(context: template.Context, profile: Any) -> SafeString:
    """{% user_link profile %}: the user's name, opening the User Detail Panel (a slide-over)
    and still a plain link to the user's page. A tag rather than an included template: lists
    render it on every row, and an include costs several times more."""
    key = "hark.user_link.url"
    url = context.render_context.get(key)
    if url is None:
        url = context.render_context[key] = eurl(context, "profiles:detail", uuid=_ANY_UUID)
    # The uuid is the URL's last part: rpartition cannot pick a look-alike environment slug.
    before, _, after = url.rpartition(_ANY_UUID)
    href = f"{before}{profile.uuid}{after}"
    return format_html(
        '<a class="user-link" href="{}" hx-get="{}" hx-target="#panel" hx-swap="innerHTML"'
        ' hx-push-url="false">{}</a>',
        href,
        href,
        profile.display_name,
    )


@register.simple_tag(name="once_field")
def once_field_tag() -> SafeString:
    """{% once_field %}: the one-time token of a form that must act once (core/once.py)."""
    return once_field()


@register.tag("confirm_dialog")
def confirm_dialog(parser: Parser, token: Token) -> ConfirmDialogNode:
    """A confirmation <dialog> for a destructive action, rendered from _confirm_dialog.html:

        {% confirm_dialog "delete-trait" trait.pk action=delete_url submit="Delete trait" %}
          Delete the trait “{{ trait.key }}”?
        {% body %}
          This also removes its value from every user profile. It cannot be undone.
        {% endconfirm_dialog %}

    The dialog's id is "delete-trait-<pk>" (or the name alone, without a pk): the opener is an
    element with data-dialog-open="<id>" whose href is the action's confirmation page, the path
    without JavaScript. With hx_target="#id" the dialog's form posts with htmx and swaps that
    element (outerHTML) with the answer, as the builder's question list does.

    A tag rather than an {% include ... with %}: the title and text are
    template text with variables (and a condition, for traits), which `with` cannot pass."""
    bits = token.split_contents()[1:]
    names: list[FilterExpression] = []
    while bits and "=" not in bits[0]:
        names.append(parser.compile_filter(bits.pop(0)))
    options = token_kwargs(bits, parser)
    if (
        bits
        or not 1 <= len(names) <= 2
        or not {"action", "submit"} <= set(options) <= {"action", "submit", "hx_target"}
    ):
        raise template.TemplateSyntaxError(
            '{% confirm_dialog "name" [pk] action=url submit="Label" [hx_target="#id"] %}title'
            "{% body %}text{% endconfirm_dialog %}"
        )
    title = parser.parse(("body",))
    parser.delete_first_token()
    body = parser.parse(("endconfirm_dialog",))
    parser.delete_first_token()
    return ConfirmDialogNode(names, options, title, body)


class ConfirmDialogNode(template.Node):
    def __init__(
        self,
        names: list[FilterExpression],
        options: dict[str, FilterExpression],
        title: NodeList,
        body: NodeList,
    ) -> None:
        self.names, self.options, self.title, self.body = names, options, title, body

    def render(self, context: template.Context) -> str:
        name, *pk = (part.resolve(context) for part in self.names)
        confirm = {
            "id": f"{name}-{pk[0]}" if pk else name,
            # Rendered (so escaped) by the template engine already.
            "title": mark_safe(self.title.render(context).strip()),
            "body": mark_safe(self.body.render(context).strip()),
            **{key: value.resolve(context) for key, value in self.options.items()},
        }
        assert context.template is not None  # set while a template renders its nodes
        dialog = context.template.engine.get_template("_confirm_dialog.html")
        with context.push(confirm=confirm):
            return dialog.render(context)

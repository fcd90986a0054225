"""The Events page: every event definition with its counts; describe or delete one."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from core.http import HarkRequest, confirm_page, confirmed, htmx_fragment
from core.urls import env_reverse
from environments.permissions import editor_required

from .forms import EventDefinitionForm
from .models import EventDefinition
from .selectors import RECENT_DAYS, event_definition_list
from .services import event_definition_delete_request, event_definition_update


def _definition(request: HarkRequest, pk: int) -> EventDefinition:
    return get_object_or_404(event_definition_list(environment_id=request.environment.pk), pk=pk)


@require_GET
def event_list(request: HarkRequest) -> HttpResponse:
    context = {
        "definitions": list(event_definition_list(environment_id=request.environment.pk)),
        "recent_days": RECENT_DAYS,
        "can_edit": request.membership.can_edit,
    }
    return render(request, "events/list.html", context)


@require_http_methods(["GET", "POST"])
@editor_required(read_only="events:list")
def event_edit(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: the edit row (htmx) or an edit page. POST: save; the row (htmx) or the list."""
    definition = _definition(request, pk)
    if request.method == "POST":
        form = EventDefinitionForm(request.POST)
        if form.is_valid():
            event_definition_update(
                definition=definition, description=form.cleaned_data["description"]
            )
            if htmx_fragment(request):
                return render(
                    request,
                    "events/list.html#event-row",
                    {"definition": definition, "can_edit": True},
                )
            messages.success(request, f"Event “{definition.name}” saved.")
            return HttpResponseRedirect(env_reverse(request, "events:list"))
    else:
        form = EventDefinitionForm(initial={"description": definition.description})
    context = {"definition": definition, "form": form, "can_edit": True}
    if htmx_fragment(request):
        return render(request, "events/list.html#event-edit-row", context)
    return render(request, "events/edit.html", context)


@require_GET
def event_row(request: HarkRequest, pk: int) -> HttpResponse:
    """The display row again (the edit row's Cancel)."""
    return render(
        request,
        "events/list.html#event-row",
        {"definition": _definition(request, pk), "can_edit": request.membership.can_edit},
    )


@require_http_methods(["GET", "POST"])
@editor_required(read_only="events:list")
def event_delete(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: a confirmation page (the <dialog>'s fallback). POST with confirm: delete with its
    events."""
    definition = _definition(request, pk)
    if confirmed(request):
        event_definition_delete_request(definition=definition)
        messages.success(
            request,
            f"Event “{definition.name}” deleted. Its {definition.total_count:,} events are being "
            "removed in the background.",
        )
        return HttpResponseRedirect(env_reverse(request, "events:list"))
    back = env_reverse(request, "events:list")
    context = {"definition": definition}
    return confirm_page(request, "events/delete.html", context, back=back, back_label="Events")

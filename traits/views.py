"""The Traits page: every definition, inline edit (label, description, type, hidden), delete."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from core.http import HarkRequest, confirm_page, confirmed, htmx_fragment
from core.urls import env_reverse
from environments.permissions import editor_required
from segments.selectors import segments_using_trait

from .forms import TraitForm
from .models import DataType, Scope, Trait
from .selectors import trait_list
from .services import trait_delete, trait_update


@require_GET
def trait_list_view(request: HarkRequest) -> HttpResponse:
    scope = request.GET.get("scope") or None
    context = {
        "traits": list(trait_list(environment_id=request.environment.pk, scope=scope)),
        "scope": scope if scope in Scope.values else "",
        "scopes": Scope.choices,
        "can_edit": request.membership.can_edit,
    }
    return render(request, "traits/list.html", context)


@require_http_methods(["GET", "POST"])
@editor_required(read_only="traits:list")
def trait_edit(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: the edit row (htmx) or an edit page. POST: save; the row (htmx) or back to the list."""
    trait = get_object_or_404(Trait, pk=pk, environment=request.environment)
    impact: list | None = None
    new_type = ""
    if request.method == "POST":
        form = TraitForm(request.POST)
        if form.is_valid():
            new_type = form.cleaned_data["data_type"]
            if new_type != trait.data_type and request.POST.get("confirm_type") != new_type:
                # A type change alters the segments with a condition on the trait: say which,
                # and what happens to them, before it is made.
                impact = segments_using_trait(
                    environment_id=trait.environment_id,
                    scope=trait.scope,
                    key=trait.key,
                    data_type=new_type,
                )
            if not impact:
                trait_update(trait=trait, **form.cleaned_data)
                if htmx_fragment(request):
                    return render(
                        request, "traits/list.html#trait-row", {"trait": trait, "can_edit": True}
                    )
                messages.success(request, f"Trait “{trait.display_label}” saved.")
                return HttpResponseRedirect(env_reverse(request, "traits:list"))
    else:
        form = TraitForm(
            initial={
                "label": trait.label,
                "description": trait.description,
                "data_type": trait.data_type,
                "hidden": trait.hidden,
            }
        )
    context = {
        "trait": trait,
        "form": form,
        "can_edit": True,
        "impact": impact,
        "new_type": new_type,
        "new_type_label": DataType(new_type).label if new_type else "",
        "used_by": segments_using_trait(
            environment_id=trait.environment_id, scope=trait.scope, key=trait.key
        )
        if impact is None
        else [],
    }
    if htmx_fragment(request):
        return render(request, "traits/list.html#trait-edit-row", context)
    return render(request, "traits/edit.html", context)


@require_GET
def trait_row(request: HarkRequest, pk: int) -> HttpResponse:
    """The display row again (the edit row's Cancel)."""
    trait = get_object_or_404(Trait, pk=pk, environment=request.environment)
    return render(
        request,
        "traits/list.html#trait-row",
        {"trait": trait, "can_edit": request.membership.can_edit},
    )


@require_http_methods(["GET", "POST"])
@editor_required(read_only="traits:list")
def trait_delete_view(request: HarkRequest, pk: int) -> HttpResponse:
    """GET: a confirmation page (the fallback of the <dialog>). POST with confirm: delete with
    the values."""
    trait = get_object_or_404(Trait, pk=pk, environment=request.environment)
    if confirmed(request):
        touched = trait_delete(trait=trait)
        holder = "profiles" if trait.scope == Scope.PROFILE else "responses"
        messages.success(
            request,
            f"Trait “{trait.key}” deleted, and its value removed from {touched:,} {holder}.",
        )
        return HttpResponseRedirect(env_reverse(request, "traits:list"))
    back = env_reverse(request, "traits:list")
    return confirm_page(
        request, "traits/delete.html", {"trait": trait}, back=back, back_label="Traits"
    )

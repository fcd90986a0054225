"""Contact import pages: the list with the upload form, the mapping with its preview, the
progress (an htmx fragment polled while the import runs) and the report of rejected rows."""

from __future__ import annotations

import os
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from core.http import HarkRequest, htmx_fragment
from core.urls import env_reverse
from environments.permissions import admin_required
from traits.models import DataType

from .forms import UploadForm
from .models import ColumnRole, ContactImport, ImportStatus
from .services import (
    import_create,
    import_preview,
    import_start,
    mapping_clean,
    mapping_default,
    rejected_csv_lines,
)

LIST_SIZE = 20


def _get_import(request: HarkRequest, uuid: UUID) -> ContactImport:
    return get_object_or_404(ContactImport, uuid=uuid, environment=request.environment)


@admin_required
@require_http_methods(["GET", "POST"])
def import_list(request: HarkRequest) -> HttpResponse:
    """Recent imports and, for admins, the upload form (a POST stores the file and opens its
    mapping page)."""
    form = UploadForm()
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                contact_import = import_create(
                    environment=request.environment,
                    user=request.user,
                    upload=form.cleaned_data["file"],
                )
            except ValidationError as exc:
                for field, messages in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                return HttpResponseRedirect(
                    env_reverse(request, "imports:detail", uuid=contact_import.uuid)
                )
    imports = (
        ContactImport.objects.filter(environment=request.environment)
        .select_related("created_by")
        .order_by("-created_at")[:LIST_SIZE]
    )
    context = {
        "form": form,
        "imports": imports,
        "is_admin": request.membership.is_admin,
        "max_bytes": settings.HARK_IMPORT_MAX_BYTES,
    }
    return render(request, "imports/list.html", context, status=400 if form.errors else 200)


def _mapping_from_post(request: HarkRequest, header: list[str]) -> list[dict[str, str]]:
    return [
        {
            "role": request.POST.get(f"role_{i}", ""),
            "key": request.POST.get(f"key_{i}", ""),
            "type": request.POST.get(f"type_{i}", ""),
        }
        for i in range(len(header))
    ]


@admin_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HarkRequest, uuid: UUID) -> HttpResponse:
    """Before the run: the column mapping with a preview of the first rows and of the problems
    found (POST `preview` shows it again for a changed mapping; POST `start` queues the run).
    After: the progress (the `progress` partial, polled by htmx while the import runs), the
    counts and the report of rejected rows."""
    contact_import = _get_import(request, uuid)
    context: dict[str, Any] = {"import": contact_import, "is_admin": request.membership.is_admin}
    status = 200
    mapping_step = contact_import.status == ImportStatus.MAPPING
    if mapping_step and not os.path.exists(contact_import.path):
        # The upload is gone (HARK_IMPORT_DIR cleaned, or not shared): nothing to map.
        context["missing_file"] = True
    elif mapping_step:
        mapping = mapping_default(contact_import)
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            mapping = _mapping_from_post(request, contact_import.header)
            try:
                cleaned = mapping_clean(contact_import.header, mapping)
            except ValidationError as exc:
                errors = exc.message_dict
                status = 400
            else:
                mapping = cleaned
                if request.POST.get("action") == "start":
                    import_start(contact_import=contact_import, mapping=cleaned)
                    return HttpResponseRedirect(
                        env_reverse(request, "imports:detail", uuid=contact_import.uuid)
                    )
        preview = None if errors else import_preview(contact_import=contact_import, mapping=mapping)
        context.update(
            columns=[
                {
                    "index": i,
                    "name": name,
                    "entry": mapping[i],
                    "error": " ".join(errors.get(f"column_{i}", [])),
                }
                for i, name in enumerate(contact_import.header)
            ],
            mapping_error=" ".join(errors.get("mapping", [])),
            preview=preview,
            roles=ColumnRole.choices,
            types=DataType.choices,
        )
    if htmx_fragment(request):
        return render(request, "imports/detail.html#progress", context)
    return render(request, "imports/detail.html", context, status=status)


@admin_required
@require_GET
def import_report(request: HarkRequest, uuid: UUID) -> StreamingHttpResponse:
    """The rejected rows with their reason, as CSV (streamed)."""
    contact_import = _get_import(request, uuid)
    response = StreamingHttpResponse(
        rejected_csv_lines(contact_import), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="rejected-rows-{contact_import.uuid}.csv"'
    )
    return response

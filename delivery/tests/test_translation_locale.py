"""A translation's language code in any spelling ("pt_BR", "PT-br") is one translation: the page
reads, saves and removes it under the form it is stored in ("pt-br")."""

from __future__ import annotations

import pytest

from delivery.factories import web_survey
from delivery.models import SurveyTranslation
from tests.helpers import eurl

pytestmark = pytest.mark.django_db


def test_a_language_code_spelled_with_an_underscore_is_one_translation(environment, owner_client):
    survey = web_survey(environment, questions=1)
    picked = owner_client.get(
        eurl(environment, "delivery:translation_pick", uuid=survey.uuid), {"locale": "pt_BR"}
    )
    canonical = eurl(environment, "delivery:translation", uuid=survey.uuid, locale="pt-br")
    assert picked["Location"] == canonical
    typed = eurl(environment, "delivery:translation", uuid=survey.uuid, locale="pt_BR")
    assert owner_client.get(typed)["Location"] == canonical

    saved = owner_client.post(typed, {"q1__title": "Você nos recomendaria?"})
    assert saved["Location"] == canonical
    assert SurveyTranslation.objects.get(survey=survey).locale == "pt-br"
    assert "Você nos recomendaria?" in owner_client.get(canonical).content.decode()

    owner_client.post(typed, {"action": "delete"})
    assert not SurveyTranslation.objects.filter(survey=survey).exists()


def test_a_language_code_with_a_nul_is_an_empty_page_and_saves_nothing(environment, owner_client):
    survey = web_survey(environment, questions=1)
    bad = eurl(environment, "delivery:translation", uuid=survey.uuid, locale="de\x00")
    assert owner_client.get(bad).status_code == 200
    assert owner_client.post(bad, {"q1__title": "Hallo"}).status_code == 400
    assert owner_client.post(bad, {"action": "delete"}).status_code == 302
    picked = owner_client.get(
        eurl(environment, "delivery:translation_pick", uuid=survey.uuid), {"locale": "de\x00"}
    )
    assert owner_client.get(picked["Location"]).status_code == 200
    assert not SurveyTranslation.objects.exists()

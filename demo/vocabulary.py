"""What the demo data is made of: names, companies, countries and plans with their weights, the
event kinds with their properties, the four demo surveys and the answers' comments."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from surveys.models import QuestionKind, SurveyMode, SurveyStatus

FIRST_NAMES = [
    "Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Björn", "Carla", "Chen", "Chloé", "Dario",
    "Eva", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jana", "José", "Kai",
    "Kenji", "Lara", "Leo", "Lina", "Lucas", "Maya", "Mei", "Mia", "Nadia", "Noah", "Olga",
    "Omar", "Priya", "Rafael", "Rosa", "Sara", "Sofia", "Søren", "Tariq", "Tom", "Yara", "Zoë",
]  # fmt: skip
LAST_NAMES = [
    "Andersen", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Hoffmann", "Ito",
    "Jansen", "Kowalski", "Lopez", "Martin", "Müller", "Nakamura", "Novak", "Okafor", "Olsen",
    "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Smith", "Tanaka", "Weber", "Wong", "Yilmaz",
]  # fmt: skip
COMPANIES = [
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Wonka", "Cyberdyne", "Soylent", "Tyrell", "Vandelay", "Pied Piper", "Aperture", "Massive",
    "Monarch", "Oscorp", "Nakatomi", "Gringotts", "Dunder Mifflin", "Prestige Worldwide",
    "Bluth", "Sterling Cooper", "Los Pollos", "Blue Sun", "Weyland", "Virtucon", "Gekko",
    "Kramerica", "Stratton", "Lunar Industries", "Black Mesa", "Zorg", "Ollivanders",
]  # fmt: skip
COUNTRIES = [
    ("United States", 30), ("Germany", 12), ("United Kingdom", 10), ("France", 8),
    ("Canada", 6), ("Brazil", 6), ("India", 6), ("Japan", 5), ("Spain", 4),
    ("Netherlands", 4), ("Australia", 4), ("Sweden", 3), ("Poland", 2),
]  # fmt: skip
PLANS = [("free", 45), ("starter", 25), ("pro", 20), ("enterprise", 10)]
SEATS = {"free": (1, 1), "starter": (1, 5), "pro": (3, 50), "enterprise": (50, 2000)}

# Event kinds: (name, weight for identified users, description, property values).
EVENT_KINDS: list[tuple[str, int, str, dict[str, list[Any]]]] = [
    ("page_viewed", 40, "A page of the app was shown.",
     {"path": ["/dashboard", "/projects", "/reports", "/settings", "/billing", "/team"]}),
    ("signed_in", 18, "The user signed in.", {"method": ["password", "google", "sso"]}),
    ("feature_used", 20, "One of the app's features was used.",
     {"feature": ["search", "export", "filters", "comments", "automations", "templates"]}),
    ("report_exported", 6, "A report was exported.", {"format": ["csv", "pdf", "xlsx"]}),
    ("project_created", 7, "A new project was created.",
     {"template": ["blank", "roadmap", "sprint", "research"]}),
    ("teammate_invited", 5, "A teammate was invited.", {"role": ["member", "admin", "viewer"]}),
    ("integration_connected", 3, "An integration was connected.",
     {"integration": ["slack", "hubspot", "salesforce", "segment", "zapier"]}),
    ("subscription_upgraded", 1, "The workspace moved to a higher plan.",
     {"to": ["starter", "pro", "enterprise"]}),
]  # fmt: skip

POLL_CHOICES = [
    "Dark mode",
    "SSO / SAML",
    "Slack integration",
    "Custom dashboards",
    "Mobile app",
    "Webhooks",
]
COMMENTS = {
    "bad": [
        "Too slow on big projects.",
        "Pricing is hard to justify for a small team.",
        "The export keeps failing for me.",
        "Hard to find settings.",
        "Support took days to answer.",
    ],
    "mid": [
        "Does the job, the reports could be clearer.",
        "Good, but I miss an integration with our CRM.",
        "Fine overall. The mobile view needs work.",
        "Onboarding was a bit long.",
    ],
    "good": [
        "Love the automations, saves me hours every week!",
        "Clean and fast. My whole team uses it.",
        "Best tool we adopted this year.",
        "Support is fantastic.",
        "The templates got us started in minutes.",
    ],
}

# The demo surveys: (code, name, status, mode, channels,
#   [(question kind, key, title, config, required), ...]).
QuestionSpec = tuple[str, str, str, dict[str, Any], bool]
SURVEYS: list[tuple[str, str, str, str, list[str], list[QuestionSpec]]] = [
    ("nps", "Net Promoter Score", SurveyStatus.LIVE, SurveyMode.IDENTIFIED, ["web", "email"], [
        (QuestionKind.NPS, "nps_score",
         "How likely are you to recommend us to a friend or colleague?",
         {"low_label": "Not likely", "high_label": "Very likely"}, True),
        (QuestionKind.TEXT, "nps_reason", "What is the main reason for your score?",
         {"placeholder": "Tell us more"}, False),
    ]),
    ("csat", "Support satisfaction", SurveyStatus.LIVE, SurveyMode.IDENTIFIED, ["web", "email"], [
        (QuestionKind.CSAT, "csat_score", "How satisfied are you with our support?",
         {"points": 5}, True),
        (QuestionKind.TEXT, "csat_comment", "How could we have helped you better?",
         {"placeholder": ""}, False),
    ]),
    ("ces", "Ease of exporting", SurveyStatus.PAUSED, SurveyMode.IDENTIFIED, ["web"], [
        (QuestionKind.CES, "ces_score", "How easy was it to export your report?",
         {"low_label": "Very difficult", "high_label": "Very easy"}, True),
        (QuestionKind.TEXT, "ces_comment", "What would have made it easier?",
         {"placeholder": ""}, False),
    ]),
    ("poll", "Feature poll", SurveyStatus.LIVE, SurveyMode.ANONYMOUS, ["web", "link"], [
        (QuestionKind.MULTIPLE_CHOICE, "feature_poll", "Which features should we build next?",
         {"choices": POLL_CHOICES}, True),
        (QuestionKind.TEXT, "feature_poll_comment", "Anything else you would like to see?",
         {"placeholder": ""}, False),
    ]),
]  # fmt: skip

# The profile traits every identified demo user has, with their labels on the Traits page.
PROFILE_TRAITS: dict[str, str] = {
    "name": "Name",
    "email": "Email",
    "plan": "Plan",
    "company": "Company",
    "seats": "Seats",
    "is_admin": "Workspace admin",
    "signed_up_at": "Signed up at",
    "country": "Country",
}


class Weighted:
    """A weighted choice among (value, weight) pairs, with its cumulative weights computed once."""

    def __init__(self, pairs: Sequence[tuple[Any, int]]) -> None:
        self.values = [value for value, _ in pairs]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


COUNTRY = Weighted(COUNTRIES)
PLAN = Weighted(PLANS)
STATUS = Weighted([("completed", 55), ("partial", 12), ("dismissed", 10), ("view", 23)])

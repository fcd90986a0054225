"""Django's `{# ... #}` comments end on their own line: one that spans lines is not a comment but
text on the page (the Overview's filters and the segment builder showed theirs to users, and a
`<style>` in one in base.html's head swallowed every page). Longer notes use
`{% comment %}...{% endcomment %}`."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_template_has_a_comment_spanning_lines():
    found = []
    for path in ROOT.rglob("*.html"):
        if ".venv" in path.parts or "node_modules" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            start = line.find("{#")
            while start != -1:
                if "#}" not in line[start:]:
                    found.append(f"{path.relative_to(ROOT)}:{number}")
                    break
                start = line.find("{#", line.find("#}", start) + 2)
    assert found == [], found

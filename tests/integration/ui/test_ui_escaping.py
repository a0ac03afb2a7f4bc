"""What users write (doc_md, descriptions, conf, XComs, tracebacks) never runs as script."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.integration.ui.conftest import Seeded
from tests.integration.ui.ui_helpers import UiEnv, run_query


def scripts(html: str) -> list[str]:
    """Every <script> element in a page (the UI's own has a src and no body)."""
    return re.findall(r"<script\b[^>]*>.*?</script>", html, re.S | re.I)


class Attributes(HTMLParser):
    """Every (tag, attribute, value) of a page, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.extend((tag, name, value or "") for name, value in attrs)


def only_our_script(html: str) -> None:
    assert scripts(html) == ['<script src="/static/ui/millstream.js" defer></script>']
    parser = Attributes()
    parser.feed(html)
    for tag, name, value in parser.found:
        assert not name.startswith("on"), f"an inline event handler on <{tag}>: {name}"
        assert not value.strip().lower().startswith("javascript:"), (tag, name, value)


def test_doc_md_is_rendered_as_sanitized_markdown(ui: UiEnv) -> None:
    page = ui.get("viewer", "/dags/ui_etl/grid").text
    only_our_script(page)
    doc = re.search(r'<div class="doc">(.*?)</div>', page, re.S)
    assert doc is not None
    html = doc.group(1)
    assert "<h1>Sales ETL</h1>" in html and "<strong>sales</strong>" in html
    assert "<p>&lt;script&gt;alert('doc')&lt;/script&gt;</p>" in html  # shown, not run
    assert '<a href="https://example.com/docs" rel="noopener noreferrer nofollow">' in html
    assert "[bad link](javascript:alert(1))" in html  # left as text, never a link


def test_descriptions_tags_and_tracebacks_are_escaped(ui: UiEnv) -> None:
    for path in ("/dags", "/dags/ui_etl/details", "/dags/ui_etl/graph", "/dags/ui_etl/code"):
        page = ui.get("viewer", path).text
        only_our_script(page)
    listing = ui.get("viewer", "/dags").text
    assert "Sales &lt;b&gt;ETL&lt;/b&gt; &amp; &lt;script&gt;" in listing
    assert "SyntaxError: &lt;script&gt;alert(&#39;tb&#39;)&lt;/script&gt;" in listing
    assert "/dags/broken_&lt;i&gt;.py" in listing


def test_conf_and_xcom_values_are_escaped(ui: UiEnv, seeded: Seeded) -> None:
    run = seeded.etl_runs[0]
    extract = ui.get("viewer", f"/dags/ui_etl/task?{run_query(run, task_id='extract')}").text
    only_our_script(extract)
    assert "&lt;b&gt;not bold&lt;/b&gt;" in extract  # the XCom the task returned
    trigger = ui.post("op", "/dags/ui_etl/trigger",
                      {"conf": '{"n": 1, "x": "</pre><script>alert(1)</script>"}'},
                      csrf_from="/dags/ui_etl/trigger")
    assert trigger.status_code == 303
    page = ui.client("op").get(trigger.headers["location"]).text
    only_our_script(page)
    assert "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_input_echoed_back_is_escaped(ui: UiEnv) -> None:
    response = ui.post("op", "/dags/ui_etl/trigger",
                       {"conf": "<script>alert(1)</script>", "run_id": "<img src=x onerror=1>"},
                       csrf_from="/dags/ui_etl/trigger")
    assert response.status_code == 400
    only_our_script(response.text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert 'value="&lt;img src=x onerror=1&gt;"' in response.text

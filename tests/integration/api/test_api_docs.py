"""The API explorer works offline: its page and assets are served by millstream itself."""

from __future__ import annotations

from tests.integration.api.api_helpers import ApiEnv


def test_the_explorer_loads_its_assets_from_millstream_not_a_cdn(api: ApiEnv) -> None:
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/api/v1/docs-assets/swagger-ui-bundle.js" in page.text
    assert "/api/v1/docs-assets/swagger-ui.css" in page.text
    assert "/api/v1/openapi.json" in page.text
    assert "http://" not in page.text.replace("http://127", "") and "https://" not in page.text
    script = api.client.get("/api/v1/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000
    style = api.client.get("/api/v1/docs-assets/swagger-ui.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert api.client.get("/api/v1/openapi.json").json()["info"]["title"] == \
        "millstream REST API"

"""``/docs``: Swagger UI from the local ``swagger-ui-dist`` package, without inline script.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline ``<script>``, which the
Content-Security-Policy forbids; the app is created with ``docs_url=None`` and this page is served instead.
The assets come from ``/static/vendor/swagger-ui`` (mounted with the other vendor folders in
``web.pages``), the start-up from ``/static/app/swagger-init.js``.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

SWAGGER_ASSETS = "/static/vendor/swagger-ui"

_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API 文档</title>
  <link rel="icon" href="/static/app/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/app/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    openapi_url = app.openapi_url or "/openapi.json"
    page = _PAGE.format(title=escape(app.title), assets=SWAGGER_ASSETS, openapi_url=escape(openapi_url))

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

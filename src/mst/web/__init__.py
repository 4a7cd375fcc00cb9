"""Web app for MST teams (FastAPI, server-rendered Jinja2 pages, JSON API with OpenAPI)."""

from mst.web.app import create_app
from mst.web.settings import WebSettings

__all__ = ["WebSettings", "create_app"]

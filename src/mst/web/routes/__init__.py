"""Routers of the web app; handlers call services, never SQL."""

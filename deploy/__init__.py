"""Serving the lab to many sessions: `serve` (replicas behind nginx) and `load` (a light session client)."""

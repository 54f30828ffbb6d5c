"""Tests of Tidings' own resource API (templates, clusters, users)."""

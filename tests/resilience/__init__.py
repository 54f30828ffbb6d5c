"""Fault tests: what Tidings survives (issue 7)."""

"""Tests against the real services the fixtures start, mirroring the packages and rooms."""

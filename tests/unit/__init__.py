"""Unit tests: no database, no Redis, no child process, no socket; folders mirror the packages and rooms."""

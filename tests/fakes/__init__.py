"""Local protocol peers for tests: real servers on 127.0.0.1 that speak the providers' protocols."""

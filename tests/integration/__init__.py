"""Integration tests: the development database, Redis, the protocol fakes and child processes, all real."""

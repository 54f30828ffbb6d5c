"""``python -m host.cli``: the ``tidings`` command."""

from host.cli.main import main

main()

"""Built-in delivery channels, one module each, registered through the ``tidings.channels`` entry points."""

"""Example lstmlab plugin: variants registered through the ``lstmlab.variants`` entry point."""

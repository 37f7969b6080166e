"""``python -m lstmlab`` is the ``lstmlab`` command."""
import sys

from .cli import main

sys.exit(main())

"""``python -m symdl.verify CLAIM ...`` (the same as ``symdl verify``)."""
import sys

from .cli import main

sys.exit(main())

"""``python -m videomae_det`` is the ``videomae-det`` command (see videomae_det/command.py)."""
import sys

from videomae_det.command import main

sys.exit(main())

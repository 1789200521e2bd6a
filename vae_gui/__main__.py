"""`python -m vae_gui [CHECKPOINT]` opens the app, as `vae-explorer` does."""
import sys

from vae_gui.app import main

sys.exit(main())

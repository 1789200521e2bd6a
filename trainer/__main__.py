import sys

try:
    from trainer.cli import main
except KeyboardInterrupt:       # Ctrl-C before the CLI installed its handler: no traceback
    sys.exit(130)

sys.exit(main())

import sys

from bounds.running.cli import main

sys.exit(main())

import sys

from rmqcore.cli import main

sys.exit(main())

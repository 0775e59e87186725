import sys

from ssl_core.cli.main import main

sys.exit(main())

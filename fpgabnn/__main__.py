import sys

from fpgabnn.cli import main

sys.exit(main())

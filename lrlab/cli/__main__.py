"""`python -m lrlab.cli`: what torchrun and the tests start when `lrlab` is not on the PATH."""

import sys

from lrlab.cli import main

sys.exit(main())

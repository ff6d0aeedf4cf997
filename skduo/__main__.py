"""``python -m skduo``: the demo and the logits-directory report (see skduo._cli)."""

import sys

from skduo._cli import main

if __name__ == "__main__":
    sys.exit(main())

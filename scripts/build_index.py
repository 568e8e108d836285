#!/usr/bin/env python
"""Rebuild the index: the same as `paperqa index` (incremental by default, `--full` to start over).

python scripts/build_index.py [--full] [--embedder minilm|e5|use|NAME] [--home DIR] [--json]
"""

import sys

from paperqa.app.cli import main

if __name__ == "__main__":
    sys.argv = ["paperqa", "index", *sys.argv[1:]]
    main()

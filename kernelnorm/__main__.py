import sys

from kernelnorm.cli import main

sys.exit(main())

"""python -m yingdao_module ask|serve|batch|merge ..."""
import sys

from .cli import main

sys.exit(main())

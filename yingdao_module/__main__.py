"""python -m yingdao_module ask|workflow|serve|batch|merge ..."""
import sys

from .cli import main

sys.exit(main())

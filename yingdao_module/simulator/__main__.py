"""python -m yingdao_module.simulator [--port 8080 ...]: the simulator on its own."""
import argparse
import sys

from .cli import add_serve_arguments, run_serve

parser = argparse.ArgumentParser(description="本机扣子(Coze V3)模拟器")
add_serve_arguments(parser)
sys.exit(run_serve(parser.parse_args()))

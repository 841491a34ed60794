# The suite shares tests/programs/localserver.py with the other test programs.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import os
import time

if os.environ.get("SLOW_EXIT"):
    # A plugin that works after the last test (pytest-cov writing its data, a report upload):
    # pytest's summary, then a quiet spell, then the objects collected at exit.
    def pytest_unconfigure(config):
        time.sleep(float(os.environ["SLOW_EXIT"]))

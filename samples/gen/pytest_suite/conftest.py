import atexit
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import truth  # noqa: E402

truth.install()
# written when pytest has returned: objects kept alive by pytest (e.g. a
# session held as a recorded warning's source) are collected by then
atexit.register(truth.finish, include_alive=True)

import common  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def upstream():
    base, = common.start_server_thread(1)
    return base

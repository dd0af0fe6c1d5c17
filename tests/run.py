"""Run the test suite and exit with pytest's own verdict.

A process that used the Temporal runtime has been seen to crash at interpreter exit after all
work was done. Leaving through ``os._exit`` with pytest's status skips that teardown, so such a
crash can neither turn a green run red nor hide a red one. "No tests ran" counts as failure.
"""

import os
import sys

import pytest

if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    status = int(pytest.main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if status == pytest.ExitCode.NO_TESTS_COLLECTED else status)

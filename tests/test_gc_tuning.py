"""The collector settings of panelmap's long-running processes (in a child process: they are global)."""

import subprocess
import sys

CHECK = """
import gc
from panelmap.gc_tuning import YOUNG_THRESHOLD, skip_collection_at_exit, tune_for_long_run
assert gc.get_freeze_count() == 0
made_at_start = [[] for _ in range(1000)]
tune_for_long_run()
assert gc.get_threshold()[0] == YOUNG_THRESHOLD, gc.get_threshold()
assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()
skip_collection_at_exit()
print("ok")
"""


def test_start_up_objects_are_frozen_and_young_collections_are_rarer():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

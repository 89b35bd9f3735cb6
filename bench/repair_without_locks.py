"""
`repair_consistency --sync` without the lost-update locks taken before the UPDATEs, to
measure what the guard costs (bench/compare.py --guard-cost, --guard-only); the UPDATEs'
own xmin conditions stay. Benchmark only: a repair without the locks may write a value
computed from a row another transaction changed between its plan and its writes.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdash.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from consistency.engine import repair  # noqa: E402

repair._lock_sources = lambda cursor, subset, ids: []
call_command("repair_consistency", "--sync")

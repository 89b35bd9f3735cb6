"""
`repair_consistency --sync` without the lost-update locks, to measure what they cost
(bench/compare.py --guard-cost). Benchmark only: a repair without them may overwrite a
therapist's edit made between its plan and its writes.
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

repair._lock_planned_rows = lambda cursor, keyed, params: None
call_command("repair_consistency", "--sync")

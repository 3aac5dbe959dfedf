"""Test-session settings.

Under CI (``CI`` set, as `.ci/run` runs) hypothesis is derandomized: every CI run explores the
same examples, so a submission is judged on reproducible results. Locally it explores new
examples on every run, which is where unknown failures should be found.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

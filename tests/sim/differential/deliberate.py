"""Cases where the simulator answers differently from kube-apiserver on purpose.

Each entry names a recorded case and why the difference is kept; ``docs/simulator.md`` lists the
same. The replay test fails when one of these starts to match (the entry is then stale) or when
any other case differs.
"""

from __future__ import annotations

DELIBERATE: dict[str, str] = {}

"""Use cases: they take their ports (unit of work, clock values, plans) as arguments and do no I/O
of their own beyond the unit of work's repositories."""

"""``make bench``: throughput, action latency and memory of jiuzhu, against the bare engine.

The benchmark starts its own embedded stack (Temporal dev server, simulators, worker, API) in a
fresh temporary directory on free ports, so it never touches ``var/`` or a running ``make run``.
It then measures, in one run:

1. N complete cases driven over HTTP by C concurrent simulated caseworkers
   (intake → survey → review approve → decision approve → first payment), timing each action;
2. the same N cases and C drivers against a bare workflow on the same Temporal server, with the
   same updates and the same number of activities, each activity doing nothing; then against
   a minimal one (start + 3 updates, one no-op activity each: the floor of a durable
   lifecycle whose every step is recorded);
3. the peak and current memory of the worker and API processes;
4. the worker's memory with M more cases left open (intake only);
5. E emergencies by C concurrent caseworkers: request, approval, then the time from the
   approval to the settled payment (both taken from the case's own timestamps), beside a bare
   workflow with the same activities after its approval update;
6. first of all, a burst: B intakes sent at one moment, a fifth of them five copies of the same
   few households, while ``/health`` is polled (every answer checked, the slowest health answer
   reported).

The public notice (公示, 7 calendar days) is a durable timer; the benchmark measures actions, so
it runs with a zero-day notice (JIUZHU_POLICY__NOTICE_CALENDAR_DAYS=0).

    .venv/bin/python -m bench [--cases 200] [--concurrency 10] [--open-cases 1000]
                              [--burst 50] [--emergencies 100] [--database-url URL] [--keep]

``--database-url`` points the stack at an empty database of its own (PostgreSQL, say:
``createdb -h 127.0.0.1 -U postgres jiuzhu_bench`` and
``--database-url postgresql+psycopg://postgres@127.0.0.1/jiuzhu_bench``); SQLite by default.

The parts, one job each: ``startup`` (ports, environment, the stack checked), ``cases`` (the
people and the bodies sent), ``drivers`` (caseworkers over HTTP), ``burst``, ``mirrors`` (the
bare workflows, run in Temporal's sandbox), ``same_io_worker`` (the "bare, same I/O"
mirror's worker process) and ``baselines`` (their drivers), ``resources``
(memory and CPU of the processes), ``measure`` (the runs in order), ``report``.
``audit.py``, ``evidence.py`` and ``payroll.py`` are benches of their own.
"""


class BenchError(Exception):
    """Something went wrong: the figures of this run cannot be trusted."""

"""What the tests share: people and their tokens (``actors``), cases started at each level
(``cases`` in the records, ``workflows`` on the time-skipping server, ``api`` over HTTP),
the stack and its settings (``stack``), and servers on free ports (``servers``)."""

"""Great Expectations checks of every staged batch (suites generated from the schema).

Importing great_expectations logs a line per internal function it registers for its API docs
("Skipping registering function ... because it is a closure"), at INFO: dozens of lines in every
validation task's log that say nothing about the data. Its loggers are set to WARNING here,
before any module of this package imports it; its warnings and errors still reach the log.
"""

import logging

logging.getLogger("great_expectations").setLevel(logging.WARNING)

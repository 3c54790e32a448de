"""teamlens, the application: the command line, the pipeline steps the DAGs call, the report,
the benchmarks, the docs generator and the demo center generator.

It composes the parts below it (jobs/, expectations/, privacy/, warehouse/ on foundation/);
nothing below imports it, and the DAGs in dags/ import only it. docs/architecture.md draws the layers.
"""

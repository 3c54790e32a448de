"""teamlens: engagement metrics for contact centers that see teams, never individuals.

The shared core: the canonical schema, the settings, the command line and the synthetic
data generator. Pipeline steps live in the sibling packages jobs/, expectations/, privacy/
and warehouse/; Airflow DAGs in dags/ only orchestrate them.
"""

"""foundation: what every other part of teamlens stands on, importing nothing above it.

The canonical schema, the settings, the roster and its pseudonyms, the policy contract (the works
agreement as a typed object), exact numbers and budgets, the lake layout (every path under the
data root) and the Spark session. jobs/, expectations/, privacy/ and warehouse/ build on it;
the application (teamlens/) on them. docs/architecture.md draws the layers.
"""

"""The read-only web app for managers and the works council (`teamlens dashboard`).

It reads only the published snapshot (warehouse.snapshot): published figures of groups, the
policy, the budget spend and the ledger; never the lake's restricted zones, never anything per
agent. Pages are rendered on the server (FastAPI + Jinja2); charts are Vega-Lite specs built with
Altair and rendered to SVG on the server (vl-convert), so the pages work offline and load nothing
from elsewhere.
"""

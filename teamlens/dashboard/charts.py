"""Charts: Altair (Vega-Lite) specs rendered to inline SVG on the server, offline."""

from __future__ import annotations

from typing import Any


def to_svg(chart: Any) -> str:
    """An Altair chart (or a Vega-Lite spec as a dict) as an SVG document to inline in a page."""
    import vl_convert

    spec = chart if isinstance(chart, dict) else chart.to_dict()
    svg: str = vl_convert.vegalite_to_svg(spec)
    return svg

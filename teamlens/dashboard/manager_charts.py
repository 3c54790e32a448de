"""The managers' charts: published values with their stored 95% intervals, as Altair specs.

The error bars and bands plot the stored ci_low and ci_high columns; never Altair's own error
bars, which would bootstrap an interval from raw data there is none of. Groups are ordered
alphabetically; greyed figures (too noisy, likely understated) are drawn grey.
"""

from __future__ import annotations

from typing import Any

from teamlens.dashboard.figures import Figure, axis_title, display_scale

SHOWN = "#24508f"
GREYED = "#a4abb5"


def _points(figs: list[Figure]) -> list[dict[str, Any]]:
    points = []
    for f in figs:
        if f.value is None or f.ci_low is None or f.ci_high is None:
            continue
        scale = display_scale(f.unit)
        points.append(
            {
                "group": f.group,
                "window": f.window,
                "window_start": f.window_start.isoformat(),
                "value": f.value * scale,
                "low": f.ci_low * scale,
                "high": f.ci_high * scale,
                "shown": "greyed: see the table" if f.greyed else "published",
            }
        )
    return points


def window_chart(figs: list[Figure], statistic: str) -> Any:
    """One window's figure of each group: a point with its 95% interval as an error bar."""
    import altair as alt

    points = _points(figs)
    unit = figs[0].unit if figs else "count"
    data = alt.Data(values=points)
    colour = alt.Color(
        "shown:N", scale=alt.Scale(domain=["published", "greyed: see the table"], range=[SHOWN, GREYED]), title=None
    )
    x = alt.X("group:N", sort="ascending", title=None, axis=alt.Axis(labelAngle=-30, labelLimit=180))
    bars = (
        alt.Chart(data)
        .mark_rule(strokeWidth=2)
        .encode(x=x, y=alt.Y("low:Q", title=axis_title(statistic, unit)), y2="high:Q", color=colour)
    )
    dots = alt.Chart(data).mark_point(filled=True, size=70).encode(x=x, y="value:Q", color=colour)
    return (bars + dots).properties(width=max(160, 48 * len(points)), height=220)


def trend_chart(figs: list[Figure], statistic: str) -> Any:
    """A line per group over the windows, with its 95% interval as a band."""
    import altair as alt

    points = _points(figs)
    unit = figs[0].unit if figs else "count"
    data = alt.Data(values=points)
    x = alt.X("window_start:T", title="window (first day)", axis=alt.Axis(format="%d %b %Y"))
    colour = alt.Color("group:N", sort="ascending", title="group")
    band = alt.Chart(data).mark_area(opacity=0.18).encode(x=x, y="low:Q", y2="high:Q", color=colour)
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(x=x, y=alt.Y("value:Q", title=axis_title(statistic, unit)), color=colour)
    )
    return (band + line).properties(width=620, height=240)

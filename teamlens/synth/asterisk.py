"""Synthetic Asterisk landing data (queue_log and CDR Master.csv) for benchmarks and tests.

Pure Python and deterministic per seed. Calls are answered, abandoned or blind-transferred,
with agent logins, pauses and logoffs around them and RINGNOANSWER lines that no table needs;
customer numbers and names are invented but present, as they are in real files, so that the
adapters' minimisation is exercised.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

QUEUES = ("support", "billing", "sales")
KINDS = ("answered", "abandoned", "transferred")
CDR_TIMEZONE = "Europe/Berlin"


@dataclass(frozen=True)
class SynthCall:
    """One queued call: what queue_log and the CDR say about it."""

    callid: str
    queue: str
    agent: str | None  # None: abandoned
    kind: str  # one of KINDS
    enter: int  # epoch seconds
    wait: int  # seconds in queue
    talk: int  # seconds with the agent (0 when abandoned)


def call_lines(call: SynthCall) -> list[tuple[int, str]]:
    """The call's queue_log lines as (epoch, line), in time order."""
    c, q = call.callid, call.queue
    lines = [(call.enter, f"{call.enter}|{c}|{q}|NONE|ENTERQUEUE||+49305550{call.enter % 10000:04d}|1")]
    if call.kind == "abandoned" or call.agent is None:
        end = call.enter + call.wait
        return [*lines, (end, f"{end}|{c}|{q}|NONE|ABANDON|1|1|{call.wait}")]
    connect = call.enter + call.wait
    end = connect + call.talk
    lines.append((connect, f"{connect}|{c}|{q}|{call.agent}|CONNECT|{call.wait}|{c}9|2"))
    if call.kind == "transferred":
        return [*lines, (end, f"{end}|{c}|{q}|{call.agent}|BLINDTRANSFER|2000|default|{call.wait}|{call.talk}|1")]
    return [*lines, (end, f"{end}|{c}|{q}|{call.agent}|COMPLETEAGENT|{call.wait}|{call.talk}|1")]


def synth_calls(day: dt.date, agents: Sequence[str], n: int, seed: int) -> list[SynthCall]:
    """About n calls between 08:00 and 17:00 UTC of the day (some end after midnight when n is large)."""
    rng = random.Random(seed)
    start = int(dt.datetime(day.year, day.month, day.day, 8, tzinfo=dt.UTC).timestamp())
    calls = []
    for i in range(n):
        kind = rng.choices(KINDS, weights=(80, 12, 8))[0]
        enter = start + rng.randrange(9 * 3600)
        calls.append(
            SynthCall(
                callid=f"{enter}.{i}",
                queue=rng.choice(QUEUES),
                agent=None if kind == "abandoned" or not agents else rng.choice(list(agents)),
                kind=kind if agents else "abandoned",
                enter=enter,
                wait=rng.randrange(0, 300),
                talk=0 if kind == "abandoned" else rng.randrange(20, 900),
            )
        )
    return calls


def synth_queue_log(folder: Path, day: dt.date, agents: Sequence[str], n: int, seed: int) -> int:
    """Write folder/queue_log.log with about n calls and the agents' day; returns the lines written."""
    rng = random.Random(seed + 1)
    start = int(dt.datetime(day.year, day.month, day.day, 7, 55, tzinfo=dt.UTC).timestamp())
    lines: list[tuple[int, str]] = [(start - 60, f"{start - 60}|NONE|NONE|NONE|QUEUESTART|")]
    for agent in agents:
        login = start + rng.randrange(300)
        lines.append((login, f"{login}|NONE|NONE|{agent}|AGENTLOGIN|{agent}"))
        lines += [(login, f"{login}|NONE|{q}|{agent}|ADDMEMBER|") for q in QUEUES]
        pause = start + 4 * 3600 + rng.randrange(3600)
        lines.append((pause, f"{pause}|NONE|NONE|{agent}|PAUSE|{rng.choice(('Lunch', 'Break', ''))}"))
        lines.append((pause + 1800, f"{pause + 1800}|NONE|NONE|{agent}|UNPAUSE|"))
        logoff = start + 9 * 3600 + 600 + rng.randrange(300)
        lines.append((logoff, f"{logoff}|NONE|NONE|{agent}|AGENTLOGOFF|{agent}|{logoff - login}"))
    for call in synth_calls(day, agents, n, seed):
        lines += call_lines(call)
        if call.agent is not None and rng.random() < 0.2:
            t = call.enter + 1
            lines.append((t, f"{t}|{call.callid}|{call.queue}|{rng.choice(list(agents))}|RINGNOANSWER|15000"))
    lines.sort(key=lambda x: x[0])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "queue_log.log").write_text("".join(f"{line}\n" for _, line in lines), encoding="utf-8")
    return len(lines)


def _csv_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def synth_cdr(
    folder: Path, day: dt.date, agents: Sequence[str], n: int, seed: int, timezone: str = CDR_TIMEZONE
) -> int:
    """Write folder/Master.csv with about n calls (local times in timezone); returns the rows written.

    Writes folder.parent/source.yaml naming the time zone when there is none yet.
    """
    tz = ZoneInfo(timezone)
    rng = random.Random(seed + 2)

    def local(epoch: int) -> str:
        return dt.datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M:%S")

    rows = []
    for i, call in enumerate(synth_calls(day, agents, n, seed)):
        number = f"0{rng.randrange(10**9, 10**10)}"
        answered = call.agent is not None
        answer = call.enter + call.wait
        end = answer + call.talk if answered else call.enter + call.wait
        dstchannel = f"{call.agent}-{i:08x}" if answered else ""
        fields = [
            _csv_quote(""),
            _csv_quote(number),
            _csv_quote("200"),
            _csv_quote("from-pstn"),
            _csv_quote(f'"Caller {number[-4:]}" <{number}>'),
            _csv_quote(f"SIP/trunk-{i:08x}"),
            _csv_quote(dstchannel),
            _csv_quote("Queue"),
            _csv_quote(f"{call.queue},t,,,300"),
            _csv_quote(local(call.enter)),
            _csv_quote(local(answer) if answered else ""),
            _csv_quote(local(end)),
            str(end - call.enter),
            str(call.talk if answered else 0),
            _csv_quote("ANSWERED" if answered else "NO ANSWER"),
            _csv_quote("DOCUMENTATION"),
            _csv_quote(call.callid),
            _csv_quote(""),
        ]
        rows.append(",".join(fields))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Master.csv").write_text("".join(f"{r}\n" for r in rows), encoding="utf-8")
    options = folder.parent / "source.yaml"
    if not options.exists():
        options.write_text(f"timezone: {timezone}\n", encoding="utf-8")
    return len(rows)

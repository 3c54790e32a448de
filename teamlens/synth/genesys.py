"""Synthetic Genesys Cloud conversation details (landing/genesys_conversations/day=D/) for benchmarks.

Pure Python and deterministic per seed. About 90% of the conversations go to conversations.jsonl and
the rest to api.json as an analytics API response, so both file shapes jobs.source_genesys reads are
exercised: answered calls (with holds and wrap-up), transfers between two agents, abandoned calls,
IVR-only calls, and customer names and numbers that must never be parsed.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

QUEUES = ("q-sales", "q-support", "q-billing")
MEDIA = ("voice", "voice", "voice", "voice", "chat", "email", "message", "callback")
NAMES = ("Erika Mustermann", "Max Muster", "Jürgen Müller", "Ana Silva", "John Smith")


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _seg(a: dt.datetime, b: dt.datetime, kind: str, queue: str | None = None) -> dict[str, Any]:
    seg: dict[str, Any] = {"segmentStart": _iso(a), "segmentEnd": _iso(b), "segmentType": kind}
    if queue:
        seg["queueId"] = queue
    return seg


def _met(name: str, value: int, at: dt.datetime) -> dict[str, Any]:
    return {"name": name, "value": value, "emitDate": _iso(at)}


def _agent(
    rng: random.Random, pid: str, user: str, media: str, queue: str, t: dt.datetime, transfer: bool
) -> tuple[dict[str, Any], dt.datetime]:
    """An answering agent participant from t; returns it and the end of its talk."""
    segs = [_seg(t, t + dt.timedelta(seconds=5), "alert", queue)]
    t += dt.timedelta(seconds=5)
    answered = t
    talk_ms = held_ms = 0
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        talk = dt.timedelta(milliseconds=rng.randint(20_000, 400_000))
        segs.append(_seg(t, t + talk, "interact", queue))
        talk_ms += int(talk.total_seconds() * 1000)
        t += talk
        if rng.random() < 0.3:
            held = dt.timedelta(milliseconds=rng.randint(5_000, 120_000))
            segs.append(_seg(t, t + held, "hold", queue))
            held_ms += int(held.total_seconds() * 1000)
            t += held
    talk_end = t
    acw = dt.timedelta(milliseconds=rng.randint(0, 180_000))
    segs.append(_seg(t, t + acw, "wrapup", queue))
    metrics = [_met("tAnswered", 5000, answered), _met("tTalkComplete", talk_ms, talk_end)]
    if held_ms:
        metrics.append(_met("tHeldComplete", held_ms, talk_end))
    metrics.append(_met("tAcw", int(acw.total_seconds() * 1000), t + acw))
    if transfer:
        metrics.append(_met("nTransferred", 1, talk_end))
    participant = {
        "participantId": pid,
        "purpose": "agent",
        "userId": user,
        "participantName": f"Agent {user}",
        "sessions": [{"mediaType": media, "direction": "inbound", "segments": segs, "metrics": metrics}],
    }
    return participant, t + acw


def _conversation(rng: random.Random, i: int, day: dt.date, agents: Sequence[str]) -> dict[str, Any]:
    start = dt.datetime.combine(day, dt.time(7)) + dt.timedelta(seconds=rng.randint(0, 11 * 3600))
    media = rng.choice(MEDIA)
    cid = f"conv-{day:%Y%m%d}-{i:07d}"
    customer_session: dict[str, Any] = {
        "mediaType": media,
        "direction": "inbound",
        "ani": f"tel:+49151{rng.randint(1_000_000, 9_999_999)}",
        "dnis": "tel:+498001234567",
        "segments": [],
    }
    customer = {
        "participantId": f"{cid}-c",
        "purpose": "customer",
        "participantName": rng.choice(NAMES),
        "sessions": [customer_session],
    }
    ivr_end = start + dt.timedelta(seconds=rng.randint(5, 60))
    ivr = {
        "participantId": f"{cid}-i",
        "purpose": "ivr",
        "sessions": [{"mediaType": media, "segments": [_seg(start, ivr_end, "ivr")]}],
    }
    participants: list[dict[str, Any]] = [customer, ivr]
    roll = rng.random()
    end = ivr_end
    if roll >= 0.08:
        queue = rng.choice(QUEUES)
        wait = dt.timedelta(milliseconds=rng.randint(1_000, 300_000))
        abandoned = roll < 0.2 or not agents
        acd_metrics = [_met("tAbandon" if abandoned else "tAcd", int(wait.total_seconds() * 1000), ivr_end + wait)]
        participants.append(
            {
                "participantId": f"{cid}-q",
                "purpose": "acd",
                "sessions": [
                    {
                        "mediaType": media,
                        "segments": [_seg(ivr_end, ivr_end + wait, "interact", queue)],
                        "metrics": acd_metrics,
                    }
                ],
            }
        )
        end = ivr_end + wait
        if not abandoned:
            transfer = rng.random() < 0.1 and len(agents) > 1
            first, second = rng.sample(list(agents), 2) if transfer else (rng.choice(list(agents)), "")
            agent, end = _agent(rng, f"{cid}-a1", first, media, queue, end, transfer)
            participants.append(agent)
            if transfer:
                agent, end = _agent(rng, f"{cid}-a2", second, media, queue, end, False)
                participants.append(agent)
    customer_session["segments"] = [_seg(start, end, "interact")]
    return {
        "conversationId": cid,
        "conversationStart": _iso(start),
        "conversationEnd": _iso(end),
        "originatingDirection": "inbound",
        "participants": participants,
    }


def synth_conversations(folder: Path, day: dt.date, agents: Sequence[str], n: int, seed: int) -> int:
    """Write about n conversations for the given Genesys user ids into folder (a landing day folder);
    returns the number of input records (conversations) written."""
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    conversations = [_conversation(rng, i, day, agents) for i in range(n)]
    in_document = conversations[: n // 10]
    with (folder / "conversations.jsonl").open("w", encoding="utf-8") as fh:
        for conv in conversations[n // 10 :]:
            fh.write(json.dumps(conv, ensure_ascii=False) + "\n")
    if in_document:
        doc = {"conversations": in_document, "totalHits": len(in_document)}
        (folder / "api.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return len(conversations)

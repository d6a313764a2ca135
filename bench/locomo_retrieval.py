"""LoCoMo retrieval: does archival search bring back the turns that answer a question?

    .venv/bin/python -m bench.locomo_retrieval [--conversations dev|heldout|all|conv-26,conv-30]
                                               [--embedding local/all-minilm-l6-v2] [--json PATH]

Every turn of a conversation is inserted into one agent's archival memory the
way a user imports a conversation (memory/services/archival.passage_insert,
what POST /v1/agents/{id}/archival-memory calls: "Speaker: text", the session's
date as created_at, the conversation's id as the `thread` that makes its turns
one whole), then every question is asked through the real search
(passage_search, what GET .../archival-memory/search calls). A question scores by where its evidence
turns come back: recall@k (share of its evidence turns in the top k), hit@10
(any of them in the top 10) and MRR (first evidence turn). Categories 1-4 are
averaged together; 5 (adversarial: no answer exists) is reported apart.

Tune on the dev conversations (the first five) only; the held-out five are how
the project is judged. Data: ../shared/data/locomo10.json (CC BY-NC 4.0, never
copied into this repository). Runs in a throwaway database.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, percentile, table, throwaway_database, write_json

DATA = REPO.parent / "shared" / "data" / "locomo10.json"
KS = (1, 5, 10, 20)
CATEGORY_NAMES = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}


def load(path: Path, which: str) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if which == "dev":
        return data[:5]
    if which == "heldout":
        return data[5:]
    if which == "all":
        return data
    wanted = set(which.split(","))
    return [c for c in data if c["sample_id"] in wanted]


def session_date(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' -> an aware datetime."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turns(conversation: dict[str, Any]) -> list[tuple[str, str, datetime]]:
    """(dia_id, text, when) for every turn, in order."""
    conv = conversation["conversation"]
    out = []
    sessions = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
    for n in sessions:
        when = session_date(conv[f"session_{n}_date_time"])
        for turn in conv[f"session_{n}"]:
            text = f"{turn['speaker']}: {turn['text']}"
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            out.append((turn["dia_id"], text, when))
    return out


def evidence_ids(raw: list[str]) -> list[str]:
    """Normalise the dataset's evidence quirks: 'D8:6; D9:17', 'D:11:26', 'D30:05'."""
    out = []
    for item in raw:
        for part in re.split(r"[;,\s]+", item):
            match = re.fullmatch(r"D:?(\d+):0*(\d+)", part.strip())
            if match:
                out.append(f"D{int(match.group(1))}:{int(match.group(2))}")
    return list(dict.fromkeys(out))


def score(ranked: list[str], gold: set[str]) -> dict[str, float]:
    row = {f"r@{k}": len(gold & set(ranked[:k])) / len(gold) for k in KS}
    row["hit@10"] = float(bool(gold & set(ranked[:10])))
    first = next((i for i, pid in enumerate(ranked) if pid in gold), None)
    row["mrr"] = 0.0 if first is None else 1.0 / (first + 1)
    return row


def run_conversation(conversation: dict[str, Any], embedding: str, owner: Any) -> dict[str, Any]:
    from agents.services.lifecycle import agent_create
    from memory.services.archival import passage_insert, passage_search

    agent = agent_create(
        owner=owner,
        name=f"locomo {conversation['sample_id']}",
        model="",
        embedding=embedding,
        include_base_tools=False,
    )
    by_dia: dict[str, str] = {}
    start = time.perf_counter()
    items = turns(conversation)
    for dia_id, text, when in items:
        by_dia[dia_id] = passage_insert(
            agent=agent, text=text, created_at=when, thread=conversation["sample_id"]
        )[0].id
    insert_s = time.perf_counter() - start
    to_dia = {pid: dia for dia, pid in by_dia.items()}
    results, latencies = [], []
    for qa in conversation["qa"]:
        gold = {d for d in evidence_ids(qa.get("evidence", [])) if d in by_dia}
        if not gold:
            continue
        t0 = time.perf_counter()
        hits = passage_search(agent=agent, query=qa["question"], top_k=max(KS))
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked = [to_dia[h["id"]] for h in hits]
        results.append({"category": qa["category"], **score(ranked, gold)})
    return {
        "sample_id": conversation["sample_id"],
        "turns": len(items),
        "insert_s": insert_s,
        "results": results,
        "latencies_ms": latencies,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, float]]] = defaultdict(list)
    for run in runs:
        for r in run["results"]:
            groups[str(r["category"])].append(r)
            if r["category"] != 5:
                groups["1-4"].append(r)
    metrics = [f"r@{k}" for k in KS] + ["hit@10", "mrr"]
    summary = {
        name: {"n": len(rows), **{k: sum(r[k] for r in rows) / len(rows) for k in metrics}}
        for name, rows in groups.items()
        if rows
    }
    latencies = [x for run in runs for x in run["latencies_ms"]]
    turns_total = sum(run["turns"] for run in runs)
    insert_s = sum(run["insert_s"] for run in runs)
    return {
        "categories": summary,
        "search_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "inserts_per_s": turns_total / insert_s if insert_s else 0.0,
        "turns": turns_total,
    }


def print_summary(summary: dict[str, Any], label: str) -> None:
    order = ["1", "2", "3", "4", "1-4", "5"]
    rows = []
    for name in order:
        c = summary["categories"].get(name)
        if c:
            title = name if name == "1-4" else f"{name} {CATEGORY_NAMES[int(name)]}"
            rows.append(
                [title, c["n"], c["r@1"], c["r@5"], c["r@10"], c["r@20"], c["hit@10"], c["mrr"]]
            )
    print(f"\nLoCoMo retrieval — {label}")
    print(
        table(
            [
                "category",
                "questions",
                "recall@1",
                "recall@5",
                "recall@10",
                "recall@20",
                "hit@10",
                "MRR",
            ],
            rows,
        )
    )
    lat = summary["search_ms"]
    print(
        f"search latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms; "
        f"{summary['turns']} turns inserted at {summary['inserts_per_s']:.0f}/s"
    )


def _apply_overrides(pairs: list[str]) -> dict[str, Any]:
    """--set NAME=VALUE changes a tuning constant of memory.store.search for this run."""
    from datetime import timedelta

    from memory.store import search

    applied: dict[str, Any] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        if not hasattr(search, name):
            raise SystemExit(f"memory.store.search has no setting {name!r}")
        current = getattr(search, name)
        if raw.lower() == "none":
            value: Any = None
        elif name == "NEIGHBOUR_GAP":
            value = timedelta(hours=float(raw))
        elif isinstance(current, bool):
            value = raw.lower() in ("1", "true", "yes")
        elif isinstance(current, int):
            value = int(raw)
        elif isinstance(current, float):
            value = float(raw)
        else:
            value = raw
        setattr(search, name, value)
        if hasattr(search.PostgresMemoryBackend, name):  # class-level copies of the knob
            setattr(search.PostgresMemoryBackend, name, value)
        applied[name] = raw
    return applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--conversations",
        default="dev",
        help="dev (first five, for tuning), heldout (last five), all, or sample ids",
    )
    parser.add_argument(
        "--embedding",
        default="",
        help="embedding handle, e.g. local/all-minilm-l6-v2 (default: none, full-text only)",
    )
    parser.add_argument("--data", default=str(DATA), help="path to locomo10.json")
    parser.add_argument(
        "--json", default=None, help="where to write the results (default var/bench/)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a tuning constant of memory.store.search (for experiments)",
    )
    args = parser.parse_args(argv)
    conversations = load(Path(args.data), args.conversations)
    if not conversations:
        print("no conversations selected", file=sys.stderr)
        return 2
    with throwaway_database():
        from agents.models import Organization, User

        overrides = _apply_overrides(args.set)
        org = Organization.objects.create(name="bench")
        owner = User.objects.create_user(username="bench", password="x", organization=org)
        runs = []
        for conversation in conversations:
            runs.append(run_conversation(conversation, args.embedding, owner))
            print(
                f"  {conversation['sample_id']}: {runs[-1]['turns']} turns, "
                f"{len(runs[-1]['results'])} questions",
                file=sys.stderr,
            )
        summary = summarise(runs)
    label = f"{args.conversations}, {'embedding ' + args.embedding if args.embedding else 'full-text only (no embedding model)'}"
    if overrides:
        label += f", overrides {overrides}"
    print_summary(summary, label)
    path = write_json(
        args.json,
        f"locomo_retrieval_{args.conversations.replace(',', '_')}",
        {
            "label": label,
            "conversations": [c["sample_id"] for c in conversations],
            "embedding": args.embedding,
            "overrides": overrides,
            "summary": summary,
            "per_conversation": [{k: v for k, v in r.items() if k != "latencies_ms"} for r in runs],
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

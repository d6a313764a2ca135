"""Multilingual retrieval: are Chinese (simplified and traditional), Japanese,
Korean and mixed-script facts found by their words, with no embedding model?

    .venv/bin/python -m bench.multilingual_retrieval [--split dev|heldout|all] [--json PATH]

bench/data/multilingual.json holds 20 facts per language, written for this
benchmark, and one query per fact (the words a user would search with: a key
word, a short phrase, a question, Latin brand names inside CJK text). Each
language's facts go into one agent's archival memory through the real write
path (memory/services/archival.passage_insert, as independent facts: no
thread), and each query is asked through the real search (passage_search).
A query scores by where its fact comes back: hit@1, hit@3 and MRR.

Queries alternate between `dev` (for tuning) and `heldout` (for judging only;
never tune on them). Runs in a throwaway database.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, percentile, table, throwaway_database, write_json

DATA = REPO / "bench" / "data" / "multilingual.json"
TOP_K = 10


def rank_of(answer: str, ranked: list[str]) -> int | None:
    return ranked.index(answer) + 1 if answer in ranked else None


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
    }


def run(data: dict[str, Any], split: str, owner: Any) -> dict[str, Any]:
    from agents.services.lifecycle import agent_create
    from memory.services.archival import passage_insert, passage_search

    results: dict[str, Any] = {}
    latencies: list[float] = []
    for lang, content in data["languages"].items():
        agent = agent_create(
            owner=owner, name=f"multilingual {lang}", model="", include_base_tools=False
        )
        to_fact = {}
        for fact in content["facts"]:
            to_fact[passage_insert(agent=agent, text=fact["text"])[0].id] = fact["id"]
        ranks, misses = [], []
        for q in content["queries"]:
            if split != "all" and q["split"] != split:
                continue
            t0 = time.perf_counter()
            hits = passage_search(agent=agent, query=q["query"], top_k=TOP_K)
            latencies.append((time.perf_counter() - t0) * 1000)
            rank = rank_of(q["answer"], [to_fact[h["id"]] for h in hits])
            ranks.append(rank)
            if rank is None or rank > 3:
                misses.append({"query": q["query"], "answer": q["answer"], "rank": rank})
        results[lang] = {"queries": len(ranks), **scores(ranks), "misses": misses}
    return {"languages": results, "latency_ms": latencies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "all"])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--json", default=None, help="where to write the results")
    args = parser.parse_args(argv)
    data = json.loads(Path(args.data).read_text())
    with throwaway_database():
        from agents.models import Organization, User

        org = Organization.objects.create(name="bench")
        owner = User.objects.create_user(username="bench", password="x", organization=org)
        out = run(data, args.split, owner)
    rows = [
        [lang, r["queries"], r["hit@1"], r["hit@3"], r["mrr"]]
        for lang, r in out["languages"].items()
    ]
    print(f"\nMultilingual retrieval — {args.split}, full-text only (no embedding model)")
    print(table(["language", "queries", "hit@1", "hit@3", "MRR"], rows))
    for lang, r in out["languages"].items():
        for miss in r["misses"]:
            print(f"  {lang}: {miss['query']!r} -> {miss['answer']} at rank {miss['rank']}")
    lat = out["latency_ms"]
    print(f"search latency: p50 {percentile(lat, 50):.1f} ms, p95 {percentile(lat, 95):.1f} ms")
    out["latency_ms"] = {"p50": percentile(lat, 50), "p95": percentile(lat, 95)}
    print(f"results: {write_json(args.json, f'multilingual_retrieval_{args.split}', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

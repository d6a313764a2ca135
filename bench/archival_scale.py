"""Archival memory at scale: insert rate, search latency and ANN recall.

    .venv/bin/python -m bench.archival_scale [--sizes 1k,100k,agents] [--queries 100]

Cases (`--sizes`, comma-separated):
  1k, 100k, 1m   one agent with that many passages
  agents         10,000 agents x 100 passages each (1M rows) -- many small archives
  agents-small   1,000 agents x 100 passages (a quicker version of the above)
The default (1k,100k,agents-small) finishes in a few minutes on 2 cores; 1m and
agents take longer (mostly building the HNSW index) and run only when asked.

Passages are synthetic: 384-d vectors drawn around 2,000 cluster centres
(real embeddings are clustered; uniform noise is a worst case no model makes)
and ~12 words from a Zipf-distributed vocabulary. They are bulk-loaded with
binary COPY, their search vectors computed in one pass (index_archive), and the
partial HNSW index built afterwards; the real write path
(PostgresMemoryBackend.archival_insert) is timed separately on top.

Per case: bulk load rate, archival_insert rate, search p50/p95 for the full
hybrid archival_search (full-text + vectors, fused) and for the dense part
alone, and recall@10 of the dense part against an exact scan. For many small
agents it also shows what a plain HNSW scan filtered by agent would return.
Needs numpy (`pip install -r requirements-bench.lock`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import percentile, table, throwaway_database, write_json

DIM = 384
CASES = {
    "1k": (1, 1_000),
    "100k": (1, 100_000),
    "1m": (1, 1_000_000),
    "agents": (10_000, 100),
    "agents-small": (1_000, 100),
}
DEFAULT_SIZES = "1k,100k,agents-small"


LATENT_DIM = 32
# The graph's build parameters (the migrations build the app's indexes the same way).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128


class Synthetic:
    """Passages and queries. `data="latent"` (the default) draws vectors from a
    mixture of 2,000 topics in a 32-dimensional space mapped into 384
    dimensions, plus a little isotropic noise: like real sentence embeddings,
    whose intrinsic dimension is far below their width, so near neighbours are
    meaningful. `data="isotropic"` is the worst case kept for comparison: each
    vector a topic centre plus noise larger than the centre in every one of
    the 384 dimensions, where all neighbours of a topic are nearly equidistant
    and no ANN index can tell them apart."""

    def __init__(
        self, seed: int = 7, centres: int = 2_000, vocab: int = 30_000, data: str = "latent"
    ) -> None:
        import numpy as np

        self.np = np
        self.data = data
        self.rng = np.random.default_rng(seed)
        if data == "latent":
            self.centres = self.rng.standard_normal((centres, LATENT_DIM)).astype(np.float32)
            self.projection = (
                self.rng.standard_normal((LATENT_DIM, DIM)) / np.sqrt(LATENT_DIM)
            ).astype(np.float32)
        else:
            c = self.rng.standard_normal((centres, DIM)).astype(np.float32)
            self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        syllables = [
            "ka",
            "lo",
            "mi",
            "ne",
            "ru",
            "sa",
            "ti",
            "vo",
            "ze",
            "pa",
            "qu",
            "dor",
            "len",
            "mar",
            "tis",
        ]
        words: set[str] = set()
        r = random.Random(seed)
        while len(words) < vocab:
            words.add("".join(r.choice(syllables) for _ in range(r.randint(2, 4))))
        self.words = sorted(words)
        ranks = np.arange(1, vocab + 1, dtype=np.float64)
        p = 1.0 / ranks
        self.word_p = p / p.sum()

    def vectors(self, n: int, query: bool = False) -> Any:
        np = self.np
        idx = self.rng.integers(0, len(self.centres), n)
        if self.data == "latent":
            spread = 0.7 if query else 0.5
            z = self.centres[idx] + spread * self.rng.standard_normal((n, LATENT_DIM)).astype(
                np.float32
            )
            v = z @ self.projection
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            v += 0.05 / np.sqrt(DIM) * self.rng.standard_normal((n, DIM)).astype(np.float32)
        else:
            noise = 0.12 if query else 0.08
            v = self.centres[idx] + noise * self.rng.standard_normal((n, DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def texts(self, n: int, length: int = 12) -> list[str]:
        picks = self.rng.choice(len(self.words), size=(n, length), p=self.word_p)
        return [" ".join(self.words[i] for i in row) for row in picks]


def _bulk_load(archives: list[str], per_archive: int, data: Synthetic, org_id: str | None) -> float:
    """COPY passages into the archives (binary format); returns seconds."""
    from django.db import connection
    from pgvector.psycopg import register_vector

    from agents import ids

    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)
    start = time.perf_counter()
    base = datetime(2025, 1, 1, tzinfo=UTC)
    chunk = 50_000
    total = len(archives) * per_archive
    with raw.cursor() as cursor:
        done = 0
        while done < total:
            n = min(chunk, total - done)
            vectors = data.vectors(n)
            texts = data.texts(n)
            with cursor.copy(
                "COPY memory_passage (id, archive_id, organization_id, text, tags, metadata, embedding, "
                "embedding_dim, embedding_model, created_at, updated_at) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    [
                        "varchar",
                        "varchar",
                        "varchar",
                        "text",
                        "varchar[]",
                        "jsonb",
                        "vector",
                        "int4",
                        "varchar",
                        "timestamptz",
                        "timestamptz",
                    ]
                )
                for i in range(n):
                    k = done + i
                    archive = archives[k // per_archive]
                    when = base + timedelta(minutes=k % per_archive)
                    copy.write_row(
                        [
                            ids.passage_id(),
                            archive,
                            org_id,
                            texts[i],
                            [],
                            "{}",
                            vectors[i],
                            DIM,
                            "bench/synthetic",
                            when,
                            when,
                        ]
                    )
            done += n
    return time.perf_counter() - start


def _make_agents(count: int, owner: Any) -> list[tuple[str, str]]:
    """(agent id, archive id) pairs, created with COPY too (10k agents would take
    a while through the ORM, and agents are not what is measured)."""
    from django.db import connection

    from agents import ids
    from agents.models import Agent
    from memory import models as m

    agents = [
        Agent(
            id=ids.agent_id(),
            owner=owner,
            organization_id=owner.organization_id,
            name=f"a{i}",
            system="",
            embedding="bench/synthetic",
        )
        for i in range(count)
    ]
    Agent.objects.bulk_create(agents, batch_size=2_000)
    archives = [
        m.Archive(
            id=ids.archive_id(), name=f"a{i}", owner=owner, organization_id=owner.organization_id
        )
        for i in range(count)
    ]
    m.Archive.objects.bulk_create(archives, batch_size=2_000)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO memory_archive_agents (archive_id, agent_id) VALUES (%s, %s)",
            [(ar.id, ag.id) for ar, ag in zip(archives, agents, strict=True)],
        )
    return [(ag.id, ar.id) for ag, ar in zip(agents, archives, strict=True)]


def run_case(
    name: str, owner: Any, data: Synthetic, queries: int, ef_values: list[int] | None = None
) -> dict[str, Any]:
    import numpy as np
    from django.db import connection

    from memory.store import search
    from memory.store.search import (
        PostgresMemoryBackend,
        dense_scores,
        index_archives,
        passage_scope,
    )

    n_agents, per_agent = CASES[name]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE memory_passage")
        cursor.execute(f"DROP INDEX IF EXISTS passage_hnsw_{DIM}")
    pairs = _make_agents(n_agents, owner)
    rows = n_agents * per_agent
    print(f"  {name}: loading {rows:,} passages", file=sys.stderr)
    load_s = _bulk_load([ar for _, ar in pairs], per_agent, data, owner.organization_id)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # The whole graph of 1M x 384 fits in 4 GB; a build that spills runs for an hour.
        cursor.execute("SET maintenance_work_mem = '4GB'")
        cursor.execute("SET work_mem = '256MB'")
    index_archives([ar for _, ar in pairs])
    fts_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX passage_hnsw_{DIM} ON memory_passage USING hnsw "
            f"((embedding::vector({DIM})) vector_cosine_ops) WITH (m = {HNSW_M}, "
            f"ef_construction = {HNSW_EF_CONSTRUCTION}) WHERE embedding_dim = {DIM}"
        )
        cursor.execute("VACUUM ANALYZE memory_passage")
    index_s = time.perf_counter() - t0
    search._STATS.clear()
    search._SIZES.clear()

    # Queries: near a cluster centre, with words from the same vocabulary.
    qvecs = data.vectors(queries, query=True)
    qtexts = data.texts(queries, length=5)
    current: dict[str, Any] = {}
    backend = PostgresMemoryBackend(
        embed=lambda texts: [current["v"]] * len(texts), embedding_model="bench/synthetic"
    )
    hybrid_ms, dense_ms, recalls, naive = [], [], [], []
    asked: list[tuple[str, list[float], dict[str, float]]] = []
    rng = random.Random(3)
    for i in range(queries):
        agent_id = pairs[rng.randrange(len(pairs))][0]
        current["v"] = [float(x) for x in qvecs[i]]
        t = time.perf_counter()
        backend.archival_search(agent_id, qtexts[i], tags=None, top_k=10)
        hybrid_ms.append((time.perf_counter() - t) * 1000)
        scope = passage_scope(agent_id)
        where = f"{scope.where} AND t.embedding_model = 'bench/synthetic'"
        large = search.count_at_least(
            "memory_passage", scope.where, scope.params, search.ANN_MIN_PASSAGES
        )
        t = time.perf_counter()
        got = dense_scores(
            "memory_passage", where, scope.params, current["v"], use_index=large, limit=10
        )
        dense_ms.append((time.perf_counter() - t) * 1000)
        exact = dense_scores(
            "memory_passage", where, scope.params, current["v"], use_index=False, limit=10
        )
        recalls.append(len(set(got) & set(exact)) / max(len(exact), 1))
        asked.append((agent_id, current["v"], exact))
        if n_agents > 1 and i < 30:
            # What the index alone gives with an agent filter (the trap).
            plain = _plain_hnsw(where, scope.params, current["v"])
            naive.append(len(set(plain) & set(exact)) / max(len(exact), 1))
    # The ANN path's speed/recall trade-off (hnsw.ef_search), on the same queries.
    sweep = []
    if per_agent >= search.ANN_MIN_PASSAGES:
        for ef in ef_values or []:
            search.HNSW_EF_FIXED = ef
            times, hits = [], []
            for agent_id, vector, exact in asked:
                scope = passage_scope(agent_id)
                where = f"{scope.where} AND t.embedding_model = 'bench/synthetic'"
                t = time.perf_counter()
                got = dense_scores(
                    "memory_passage", where, scope.params, vector, use_index=True, limit=10
                )
                times.append((time.perf_counter() - t) * 1000)
                hits.append(len(set(got) & set(exact)) / max(len(exact), 1))
            sweep.append(
                {
                    "ef_search": ef,
                    "p50_ms": percentile(times, 50),
                    "p95_ms": percentile(times, 95),
                    "recall@10": float(np.mean(hits)),
                }
            )
        search.HNSW_EF_FIXED = None
    # The real write path, one passage at a time, on top of the loaded data.
    inserts = 200 if rows >= 100_000 else 300
    target = pairs[0][0]
    vec = data.vectors(inserts)
    texts = data.texts(inserts)
    t = time.perf_counter()
    for i in range(inserts):
        current["v"] = [float(x) for x in vec[i]]
        backend.archival_insert(target, texts[i], [])
    insert_s = time.perf_counter() - t
    return {
        "case": name,
        "data": data.data,
        "agents": n_agents,
        "passages_per_agent": per_agent,
        "rows": rows,
        "bulk_load_rows_per_s": rows / load_s,
        "fts_index_s": fts_s,
        "hnsw_build_s": index_s,
        "archival_insert_per_s": inserts / insert_s,
        "hybrid_p50_ms": percentile(hybrid_ms, 50),
        "hybrid_p95_ms": percentile(hybrid_ms, 95),
        "dense_p50_ms": percentile(dense_ms, 50),
        "dense_p95_ms": percentile(dense_ms, 95),
        "recall@10": float(np.mean(recalls)),
        "plain_hnsw_filtered_recall@10": float(np.mean(naive)) if naive else None,
        "path": (
            f"ANN (HNSW, ef_search {search.hnsw_ef_search()})"
            if per_agent >= search.ANN_MIN_PASSAGES
            else "exact scan"
        ),
        "queries": queries,
        "ef_sweep": sweep,
        "hnsw_m": HNSW_M,
        "hnsw_ef_construction": HNSW_EF_CONSTRUCTION,
    }


def _plain_hnsw(where: str, params: dict[str, Any], vector: list[float]) -> list[str]:
    from django.db import connection, transaction

    from memory.store.search import vector_literal as vector_literal

    with transaction.atomic(), connection.cursor() as cursor:
        # Make the planner take the HNSW index, as it would for a big table.
        for setting in (
            "hnsw.iterative_scan = off",
            "enable_sort = off",
            "enable_bitmapscan = off",
            "enable_seqscan = off",
        ):
            cursor.execute(f"SET LOCAL {setting}")
        cursor.execute(
            f"SELECT t.id FROM memory_passage t WHERE t.embedding_dim = {DIM} AND {where} "
            f"ORDER BY (t.embedding::vector({DIM})) <=> %(qv)s::vector({DIM}) LIMIT 10",
            {**params, "qv": vector_literal(vector)},
        )
        return [r[0] for r in cursor.fetchall()]


def main(argv: list[str] | None = None) -> int:
    global HNSW_EF_CONSTRUCTION
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=DEFAULT_SIZES, help=f"cases, comma-separated: {', '.join(CASES)}"
    )
    parser.add_argument("--queries", type=int, default=100, help="searches per case")
    parser.add_argument(
        "--ef",
        default="",
        help="also measure the ANN path at these hnsw.ef_search values, e.g. 40,100,200",
    )
    parser.add_argument(
        "--data",
        choices=["latent", "isotropic"],
        default="latent",
        help="synthetic vectors: 'latent' (structured like real embeddings, default) or "
        "'isotropic' (noise-dominated worst case)",
    )
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=HNSW_EF_CONSTRUCTION,
        help="HNSW ef_construction for the index built here",
    )
    parser.add_argument(
        "--json", default=None, help="where to write the results (default var/bench/)"
    )
    args = parser.parse_args(argv)
    ef_values = [int(x) for x in args.ef.split(",") if x.strip()]
    HNSW_EF_CONSTRUCTION = args.ef_construction
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in CASES]
    if unknown:
        parser.error(f"unknown sizes {unknown}; choose from {', '.join(CASES)}")
    try:
        import numpy  # noqa: F401
    except ImportError:
        print(
            "bench.archival_scale needs numpy: pip install -r requirements-bench.lock",
            file=sys.stderr,
        )
        return 2
    results = []
    with throwaway_database():
        from agents.models import Organization, User

        org = Organization.objects.create(name="bench")
        owner = User.objects.create_user(username="bench", password="x", organization=org)
        data = Synthetic(data=args.data)
        for name in sizes:
            started = time.perf_counter()
            results.append(run_case(name, owner, data, args.queries, ef_values))
            results[-1]["case_s"] = time.perf_counter() - started
            print(f"  {name}: done in {results[-1]['case_s']:.0f} s", file=sys.stderr)
    rows = [
        [
            r["case"],
            f"{r['agents']:,} x {r['passages_per_agent']:,}",
            r["path"],
            f"{r['bulk_load_rows_per_s']:,.0f}",
            f"{r['archival_insert_per_s']:.0f}",
            f"{r['hybrid_p50_ms']:.1f}",
            f"{r['hybrid_p95_ms']:.1f}",
            f"{r['dense_p50_ms']:.1f}",
            f"{r['dense_p95_ms']:.1f}",
            r["recall@10"],
            "-"
            if r["plain_hnsw_filtered_recall@10"] is None
            else f"{r['plain_hnsw_filtered_recall@10']:.3f}",
            f"{r['hnsw_build_s']:.0f}",
        ]
        for r in results
    ]
    print(f"\nArchival search at scale (384-d, synthetic {args.data} data)")
    print(
        table(
            [
                "case",
                "agents x passages",
                "dense path",
                "COPY rows/s",
                "inserts/s",
                "hybrid p50 ms",
                "hybrid p95 ms",
                "dense p50 ms",
                "dense p95 ms",
                "recall@10",
                "HNSW+agent filter, no iterative scan: recall",
                "HNSW build s",
            ],
            rows,
        )
    )
    sweeps = [
        [r["case"], x["ef_search"], f"{x['p50_ms']:.1f}", f"{x['p95_ms']:.1f}", x["recall@10"]]
        for r in results
        for x in r["ef_sweep"]
    ]
    if sweeps:
        print("\nANN path by hnsw.ef_search (dense part only)")
        print(table(["case", "ef_search", "p50 ms", "p95 ms", "recall@10"], sweeps))
    path = write_json(args.json, "archival_scale", results)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

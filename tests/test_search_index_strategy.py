"""Index strategy: small archives are scanned exactly (filtering by agent never
loses results); a large archive uses the partial HNSW index of its embedding
size and prunes full-text to its rarest words. Embeddings keep their size."""

from __future__ import annotations

import hashlib
import math
import random

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from memory.store import search
from memory.store.search import (
    PostgresMemoryBackend,
    _prune,
    _TableStats,
    count_at_least,
    passage_scope,
)


def embed384(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        rng = random.Random(hashlib.sha256(text.encode()).digest())
        vec = [rng.gauss(0, 1) for _ in range(384)]
        norm = math.sqrt(sum(x * x for x in vec))
        out.append([x / norm for x in vec])
    return out


@pytest.fixture
def make_agent(alice):
    from agents.services.lifecycle import agent_create

    def make(name="a"):
        return agent_create(owner=alice, name=name, model="", include_base_tools=False)

    return make


@pytest.fixture(autouse=True)
def _fresh_caches():
    search._SIZES.clear()
    search._STATS.clear()
    yield
    search._SIZES.clear()
    search._STATS.clear()


def plan(sql: str, params, *, force_index: bool = False) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        if force_index:  # a handful of rows: make every other plan look dear
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cursor.fetchall())


def dense_query(ctx: CaptureQueriesContext) -> str:
    return next(q["sql"] for q in ctx.captured_queries if "<=>" in q["sql"])


def test_there_is_a_partial_hnsw_index_for_every_common_embedding_size(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memory_passage'"
        )
        indexes = dict(cursor.fetchall())
    for dim in search.HNSW_DIMS:
        definition = indexes[f"passage_hnsw_{dim}"]
        assert "hnsw" in definition and f"vector({dim})" in definition
        assert f"(embedding_dim = {dim})" in definition
    for dim in search.HALFVEC_DIMS:
        assert f"halfvec({dim})" in indexes[f"passage_hnsw_{dim}"]


def test_embeddings_are_stored_at_their_real_size(make_agent):
    agent = make_agent()
    backend = PostgresMemoryBackend(embed=embed384, embedding_model="test/384")
    backend.archival_insert(agent.id, "hello", [])
    with connection.cursor() as cursor:
        cursor.execute("SELECT vector_dims(embedding), embedding_dim FROM memory_passage")
        assert cursor.fetchone() == (384, 384)


def test_a_small_archive_is_searched_by_an_exact_scan(make_agent):
    agent = make_agent()
    backend = PostgresMemoryBackend(embed=embed384, embedding_model="test/384")
    for i in range(5):
        backend.archival_insert(agent.id, f"note {i}", [])
    with CaptureQueriesContext(connection) as ctx:
        backend.archival_search(agent.id, "note", tags=None)
    sql = dense_query(ctx)
    assert "::vector(384)" not in sql.split("<=>")[0]  # not the index's expression
    assert "passage_hnsw" not in plan(sql, None, force_index=True)


def test_a_large_archive_uses_the_hnsw_index_and_finds_the_same_passages(make_agent, monkeypatch):
    monkeypatch.setattr(search, "ANN_MIN_PASSAGES", 20)
    agent = make_agent()
    backend = PostgresMemoryBackend(embed=embed384, embedding_model="test/384")
    for i in range(40):
        backend.archival_insert(agent.id, f"fact number {i}", [])
    with CaptureQueriesContext(connection) as ctx:
        hits = backend.archival_search(agent.id, "fact number 7", tags=None, top_k=5)
    assert hits[0]["content"] == "fact number 7"
    sql = dense_query(ctx)
    assert "passage_hnsw_384" in plan(sql, None, force_index=True)
    # The index finds what an exact scan finds (tiny graph: exact).
    scope = passage_scope(agent.id)
    vector = embed384(["fact number 7"])[0]
    indexed = search.dense_scores(
        "memory_passage", scope.where, scope.params, vector, use_index=True, limit=10
    )
    exact = search.dense_scores(
        "memory_passage", scope.where, scope.params, vector, use_index=False, limit=10
    )
    assert list(indexed) == list(exact)


def test_many_small_agents_each_find_all_their_own_passages(make_agent):
    agents = [make_agent(f"agent{i}") for i in range(12)]
    backend = PostgresMemoryBackend(embed=embed384, embedding_model="test/384")
    for agent in agents:
        for j in range(6):
            backend.archival_insert(agent.id, f"{agent.name} memory {j}", [])
    for agent in agents:
        hits = backend.archival_search(agent.id, "zzz unrelated words", tags=None, top_k=10)
        assert sorted(h["content"] for h in hits) == [f"{agent.name} memory {j}" for j in range(6)]


def test_size_is_counted_only_up_to_the_threshold(make_agent):
    agent = make_agent()
    backend = PostgresMemoryBackend(embed=None, embedding_model="")
    for i in range(3):
        backend.archival_insert(agent.id, f"n{i}", [])
    scope = passage_scope(agent.id)
    assert count_at_least("memory_passage", scope.where, scope.params, 3) is True
    search._SIZES.clear()
    assert count_at_least("memory_passage", scope.where, scope.params, 4) is False


def test_a_huge_archive_matches_on_its_rarest_query_words():
    stats = _TableStats(
        rows=1_000_000,
        freqs={"common": 0.2, "usual": 0.01, "rareish": 0.002},
        min_freq=0.001,
        at=0.0,
    )
    assert _prune(["common", "usual", "rareish", "unseen"], stats, 5_000) == ["unseen", "rareish"]
    assert _prune(["common"], stats, 5_000) == ["common"]  # always one word


def test_the_large_path_still_finds_a_rare_word(make_agent, monkeypatch):
    monkeypatch.setattr(search, "ANN_MIN_PASSAGES", 10)
    monkeypatch.setattr(search, "LARGE_MATCH_BUDGET", 5)  # "ordinary" is in every row: pruned
    agent = make_agent()
    backend = PostgresMemoryBackend(embed=None, embedding_model="")
    for i in range(30):
        backend.archival_insert(agent.id, f"ordinary day number {i}", [])
    backend.archival_insert(agent.id, "the vault code is marzipan", [])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_passage")
    hits = backend.archival_search(agent.id, "ordinary marzipan", tags=None, top_k=3)
    assert hits[0]["content"] == "the vault code is marzipan"


def test_a_large_archive_with_few_vectors_of_the_current_model_is_scanned_exactly(
    make_agent, monkeypatch
):
    monkeypatch.setattr(search, "ANN_MIN_PASSAGES", 20)
    agent = make_agent()
    old = PostgresMemoryBackend(embed=embed384, embedding_model="test/old")
    for i in range(30):
        old.archival_insert(agent.id, f"old fact {i}", [])
    new = PostgresMemoryBackend(embed=embed384, embedding_model="test/new")
    for i in range(3):
        new.archival_insert(agent.id, f"new fact {i}", [])
    with CaptureQueriesContext(connection) as ctx:
        hits = new.archival_search(agent.id, "new fact 1", tags=None, top_k=3)
    assert hits[0]["content"] == "new fact 1"
    assert (
        "::vector(384)" not in dense_query(ctx).split("<=>")[0]
    )  # exact: the index would miss rows

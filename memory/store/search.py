"""Archival and recall search on Postgres: the MemoryBackend the memory tools
call, and the API and UI reuse (so people search exactly as the agent does).

What makes it find things (measured on LoCoMo, see bench/locomo_retrieval.py
and ../shared/reference/platform-notes.md):

- Full-text with OR semantics, ranked per query word with BM25's idf: a word
  few passages contain counts for more than one most of them contain.
  plainto_tsquery's AND finds the evidence a fraction as often.
- Words are cut by the database functions `ade_search_text` (documents) and
  `ade_search_query` (queries), memory/migrations/0006_search_text: Latin
  script goes to the English configuration (stemmed), Chinese, Japanese and
  Korean runs become characters and character pairs, so they are found by
  their words with no dictionary and no embedding model.
- A passage that is one of consecutive parts of a whole (a recall message in
  the agent's conversation; an archival passage with a `thread`: the turns of
  one imported conversation) is indexed together with its neighbours in that
  whole: its own text (with its date) at weight A, the previous part at B,
  the next at C, the ones two away at D. The answer to a question often uses
  the words of the neighbouring turn; this is the biggest single lever. A
  passage without a thread (a fact the agent saved) has no neighbours: facts
  saved one after another are unrelated, and must not find each other.
- Scores are absolute, in [0, 1]: the lexical score is the idf-weighted share
  of the query's words the passage holds (a word mentioned once in the
  passage's own text counts 0.61, more mentions up to 1.0, a word only the
  neighbour before holds 0.30), so 0.3 means the same whatever the query.
- With an embedding model, pgvector cosine similarity (negative taken as 0) is
  added to the lexical score by a fixed weighted sum. (A min-max normalised
  sum ranked a little better than RRF on LoCoMo, but made the top result 1.0
  for any query, however poor its match.)

How it stays fast: an agent with a small archive is searched by an exact scan
of its own rows (a btree on the archive finds them; HNSW with a WHERE filter
would silently lose results). Only an archive past `ANN_MIN_PASSAGES` uses the
partial HNSW index of its embedding size (memory/migrations/0002), with
iterative scans and a re-ranking by exact distance.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from django.contrib.postgres.search import SearchVectorField
from django.db import connection, transaction
from django.db.models.expressions import RawSQL

from agents import ids
from agents.models import Agent as AgentRow
from memory import models as m
from memory.llm.embeddings import Embed
from memory.store.rows import message_from_row, searchable_text
from memory.types import MessageKind

log = logging.getLogger(__name__)

TS_CONFIG = "english"
# The SQL functions that cut text into the words the index and a query hold
# (memory/migrations/0006_search_text).
DOC_TEXT = "ade_search_text"
QUERY_TEXT = "ade_search_query"
# ts_rank's weights, in Postgres' order {D, C, B, A}.
RANK_WEIGHTS = "{0.3,0.5,0.5,1.0}"
# ts_rank's length normalisation (0: none; 1: divide by 1 + log(length)).
RANK_NORMALIZATION = 0
# Indexed neighbours on each side. Later neighbours mean an insert rewrites the
# search vectors of the two passages before it (two more row versions, each also
# re-entered in the HNSW index); measured on LoCoMo they are worth it: recall@10
# 0.752 vs 0.745 (dev) and 0.713 vs 0.699 (held-out) with earlier ones only.
NEIGHBOURS_BEFORE = 2
NEIGHBOURS_AFTER = 2
# Neighbours further apart in time than this are unrelated (None: no limit).
NEIGHBOUR_GAP: timedelta | None = None
# The passage's date goes into its indexed text ("8 May 2023 ..."), so a
# question that names a month or year finds what was written then.
INDEX_DATES = True

# Partial HNSW indexes that exist (memory/migrations/0002_passage_search_indexes).
HNSW_DIMS = (384, 768, 1024, 1536)
HALFVEC_DIMS = (3072,)
# At or above this many passages of one embedding size, an agent's dense search
# uses the ANN index; below it an exact scan is both exact and fast.
ANN_MIN_PASSAGES = 20_000
# ...and at least this share of the table: a filter matching fewer rows would
# make iterative scans walk most of the graph (and stop at max_scan_tuples).
ANN_MIN_SHARE = 0.02
# HNSW's recall at a fixed ef_search falls as its graph grows (bench/archival_scale:
# ef 100 finds 0.96-1.0 of the true top 10 at 100k rows but 0.89 at 1M, ef 200
# 0.94), so the search widens with the table: ef = rows / 2,500 within [100, 400].
HNSW_EF_SEARCH = 100
HNSW_EF_SEARCH_MAX = 400
HNSW_ROWS_PER_EF = 2_500
HNSW_EF_FIXED: int | None = None  # the benchmark's sweep pins it
HNSW_MAX_SCAN_TUPLES = 50_000
# A large scope's full-text search ranks about this many rows at most (the
# rows of its rarest query words), and never more than the cap.
LARGE_MATCH_BUDGET = 500
LARGE_MATCH_CAP = 5_000
# How long "is this scope large?" is remembered (both answers are correct; the
# cache only saves counting).
SIZE_CACHE_TTL_S = 60.0

CANDIDATES = 50
LEXICAL_WEIGHT = 0.5


def tsvector_sql(expr: str, cfg: str = "%(cfg)s") -> str:
    """The search vector of a text expression, CJK runs cut into characters and pairs."""
    return f"to_tsvector({cfg}, {DOC_TEXT}({expr}))"


def _date_sql(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', 'FMDD FMMonth YYYY')" if INDEX_DATES else "''"


def fuse(
    lexical: dict[str, float], semantic: dict[str, float], lexical_weight: float = LEXICAL_WEIGHT
) -> dict[str, float]:
    """A weighted sum of the lexical score and the cosine similarity (both in
    [0, 1], the same weights for every query); without semantic scores (no
    embedding model) the lexical ones stand as they are."""
    if not semantic:
        return lexical
    lex, sem = lexical, {k: max(v, 0.0) for k, v in semantic.items()}
    w = lexical_weight
    return {k: w * lex.get(k, 0.0) + (1 - w) * sem.get(k, 0.0) for k in set(lex) | set(sem)}


# --- indexing -------------------------------------------------------------------------------

_GAP_OK = (
    "(%(gap)s::interval IS NULL OR abs(extract(epoch FROM q.created_at - t.created_at)) <= "
    "extract(epoch FROM %(gap)s::interval))"
)


def _passage_vector_sql(own: str, b1: str, a1: str, b2: str, a2: str) -> str:
    b1, a1, b2, a2 = (f"coalesce({x}, '')" for x in (b1, a1, b2, a2))
    two_away = f"{b2} || ' ' || {a2}"
    return (
        f"setweight({tsvector_sql(own)}, 'A')"
        f" || setweight({tsvector_sql(b1)}, 'B')"
        f" || setweight({tsvector_sql(a1)}, 'C')"
        f" || setweight({tsvector_sql(two_away)}, 'D')"
    )


def _neighbours(direction: Literal["before", "after"], count: int) -> str:
    op, order = ("<", "DESC") if direction == "before" else (">", "ASC")
    return f"""LEFT JOIN LATERAL (
        SELECT array_agg(q.text ORDER BY q.sequence_id {order}) AS texts FROM (
            SELECT q.text, q.sequence_id, q.created_at FROM memory_passage q
            WHERE q.archive_id = t.archive_id AND q.thread = t.thread AND t.thread <> ''
                  AND q.sequence_id {op} t.sequence_id
            ORDER BY q.sequence_id {order} LIMIT {count}) q
        WHERE {_GAP_OK}) {direction[0]} ON true"""


def index_params() -> dict[str, Any]:
    return {"cfg": TS_CONFIG, "gap": NEIGHBOUR_GAP}


def index_passages(passage_ids: Sequence[str]) -> None:
    """(Re)compute the search vectors of these passages from their text, date
    and neighbours."""
    if not passage_ids:
        return
    vector = _passage_vector_sql(
        f"{_date_sql('t.created_at')} || ' ' || t.text",
        "b.texts[1]",
        "a.texts[1]",
        "b.texts[2]",
        "a.texts[2]",
    )
    after = (
        _neighbours("after", NEIGHBOURS_AFTER)
        if NEIGHBOURS_AFTER
        else "LEFT JOIN LATERAL (SELECT NULL::text[] AS texts) a ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE memory_passage p SET search_vector = x.v FROM (
                    SELECT t.id, {vector} AS v FROM memory_passage t
                    {_neighbours("before", NEIGHBOURS_BEFORE)}
                    {after}
                    WHERE t.id = ANY(%(ids)s)) x
                WHERE p.id = x.id""",
            {**index_params(), "ids": list(passage_ids)},
        )


def index_archives(archive_ids: Sequence[str]) -> None:
    """Recompute every search vector of these archives in one pass (after a bulk load)."""

    def near(fn: str, k: int) -> str:
        return (
            f"CASE WHEN thread <> '' AND (%(gap)s::interval IS NULL OR abs(extract(epoch FROM "
            f"{fn}(created_at, {k}) OVER w - created_at)) <= extract(epoch FROM %(gap)s::interval)) "
            f"THEN {fn}(text, {k}) OVER w END"
        )

    after1 = near("lead", 1) if NEIGHBOURS_AFTER >= 1 else "NULL"
    after2 = near("lead", 2) if NEIGHBOURS_AFTER >= 2 else "NULL"
    vector = _passage_vector_sql(
        f"{_date_sql('created_at')} || ' ' || text", near("lag", 1), after1, near("lag", 2), after2
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE memory_passage p SET search_vector = x.v FROM (
                    SELECT id, {vector} AS v FROM memory_passage WHERE archive_id = ANY(%(archives)s)
                    WINDOW w AS (PARTITION BY archive_id, thread ORDER BY sequence_id)) x
                WHERE p.id = x.id""",
            {**index_params(), "archives": list(archive_ids)},
        )


def message_vector_expression(text: str, created_at: Any, previous: list[str]) -> RawSQL:
    """The search vector of a new message, to be written with its INSERT (no
    second statement): its own words and date as weight A, the searchable
    message before it as B and the one before that as D, as index_messages
    computes them."""
    date = _date_sql("%s::timestamptz") if INDEX_DATES else "''"
    before = previous[-1] if previous else ""
    before2 = previous[-2] if len(previous) > 1 else ""
    params: list[Any] = ([TS_CONFIG, created_at] if INDEX_DATES else [TS_CONFIG]) + [
        text,
        TS_CONFIG,
        before,
        TS_CONFIG,
        before2,
    ]
    cfg = "%s::regconfig"
    own = date + " || ' ' || %s"
    return RawSQL(
        f"setweight({tsvector_sql(own, cfg)}, 'A')"
        f" || setweight({tsvector_sql('%s', cfg)}, 'B')"
        f" || setweight({tsvector_sql('%s', cfg)}, 'D')",
        params,
        output_field=SearchVectorField(),
    )


def index_messages(agent_id: str, items: Sequence[tuple[str, str]]) -> None:
    """Search vectors for new messages, given as (id, searchable text) in order:
    each is indexed with the two searchable messages before it. Earlier
    neighbours only, so old rows are never rewritten. (The turn store writes the
    same vectors with the INSERT when it has the neighbours at hand.)"""
    items = [(i, t) for i, t in items if t]
    if not items:
        return
    new_ids = [i for i, _ in items]
    rows = list(
        m.Message.objects.filter(agent_id=agent_id, search_vector__isnull=False)
        .exclude(pk__in=new_ids)
        .order_by("-sequence_id")[:2]
    )
    write_message_vectors(items, [searchable_text(message_from_row(r)) for r in reversed(rows)])


def write_message_vectors(items: Sequence[tuple[str, str]], before: Sequence[str]) -> None:
    """Write the search vectors of messages given as (id, searchable text) in
    order, `before` being the searchable texts of the messages just before the
    first one."""
    texts = list(before)
    rows = []
    for message_id, text in items:
        rows.append(
            {
                **index_params(),
                "id": message_id,
                "own": text,
                "b": texts[-1] if texts else "",
                "d": texts[-2] if len(texts) > 1 else "",
            }
        )
        texts.append(text)
    own = f"{_date_sql('t.created_at')} || ' ' || %(own)s"
    with connection.cursor() as cursor:
        cursor.executemany(
            f"""UPDATE memory_message t SET search_vector =
                    setweight({tsvector_sql(own)}, 'A')
                    || setweight({tsvector_sql("%(b)s")}, 'B')
                    || setweight({tsvector_sql("%(d)s")}, 'D')
                WHERE t.id = %(id)s""",
            rows,
        )


def passage_insert(
    *,
    archive: m.Archive,
    text: str,
    tags: Sequence[str] = (),
    created_at: datetime | None = None,
    vector: Sequence[float] | None = None,
    embedding_model: str = "",
    metadata: dict[str, Any] | None = None,
    thread: str = "",
) -> str:
    """Insert one passage with its search vector computed in the same statement
    (one row version: every later UPDATE would also re-insert the row into the
    HNSW index), then give the passages before it in its thread their new later
    neighbour. A passage without a thread is indexed with its own words only."""
    passage_id = ids.passage_id()
    own = f"{_date_sql('%(created)s::timestamptz')} || ' ' || %(text)s"
    vector_sql = _passage_vector_sql(own, "b.texts[1]", "NULL", "b.texts[2]", "NULL")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO memory_passage (id, archive_id, organization_id, text, tags, metadata, embedding,
                                            embedding_dim, embedding_model, created_at, updated_at, thread,
                                            search_vector)
                SELECT %(id)s, %(archive)s, %(org)s, %(text)s, %(tags)s::varchar[], %(meta)s::jsonb,
                       %(vec)s::vector, %(dim)s, %(model)s, %(created)s, now(), %(thread)s, {vector_sql}
                FROM (SELECT array_agg(q.text ORDER BY q.sequence_id DESC) AS texts FROM (
                          SELECT q.text, q.sequence_id, q.created_at FROM memory_passage q
                          WHERE q.archive_id = %(archive)s AND q.thread = %(thread)s AND %(thread)s <> ''
                          ORDER BY q.sequence_id DESC
                          LIMIT {int(NEIGHBOURS_BEFORE)}) q
                      WHERE %(gap)s::interval IS NULL OR abs(extract(epoch FROM q.created_at - %(created)s))
                            <= extract(epoch FROM %(gap)s::interval)) b""",
            {
                **index_params(),
                "id": passage_id,
                "archive": archive.id,
                "org": archive.organization_id,
                "text": text.replace("\x00", ""),
                "tags": sorted(set(tags or [])),
                "meta": json.dumps(metadata or {}),
                "vec": vector_literal(vector) if vector else None,
                "dim": len(vector) if vector else None,
                "model": embedding_model if vector else "",
                "created": created_at or datetime.now(UTC),
                "thread": thread,
            },
        )
    if NEIGHBOURS_AFTER and thread:
        previous = list(
            m.Passage.objects.filter(archive=archive, thread=thread)
            .exclude(pk=passage_id)
            .order_by("-sequence_id")
            .values_list("id", flat=True)[:NEIGHBOURS_AFTER]
        )
        index_passages(previous)
    return passage_id


# --- ranking --------------------------------------------------------------------------------


def query_lexemes(query: str) -> list[str]:
    """The query's words as the index stores them (stemmed, stop-words out; CJK
    runs as character pairs)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(DISTINCT lexeme ORDER BY lexeme) "
            f"FROM unnest(to_tsvector(%s, {QUERY_TEXT}(%s)))",
            [TS_CONFIG, query],
        )
        return list(cursor.fetchone()[0] or [])


@dataclass
class _TableStats:
    rows: float
    freqs: dict[str, float]
    min_freq: float
    at: float


_STATS: dict[str, _TableStats] = {}
STATS_TTL_S = 600.0


def table_lexeme_stats(table: str) -> _TableStats:
    """Row count and the most common lexemes' frequencies, from what ANALYZE
    keeps in pg_stats (cheap; refreshed every STATS_TTL_S)."""
    cached = _STATS.get(table)
    if cached and time.monotonic() - cached.at < STATS_TTL_S:
        return cached
    with connection.cursor() as cursor:
        cursor.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
        rows = float(row[0]) if row else 0.0
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = %s AND attname = 'search_vector'",
            [table],
        )
        row = cursor.fetchone()
    freqs: dict[str, float] = {}
    if row and row[0]:
        freqs = {lex: float(f) for lex, f in zip(row[0], row[1], strict=False)}
    stats = _TableStats(rows, freqs, min(freqs.values()) if freqs else 0.0, time.monotonic())
    _STATS[table] = stats
    return stats


def _prune(lexemes: list[str], stats: _TableStats, budget: int) -> list[str]:
    """The rarest query words whose rows add up to about `budget`: in a huge
    archive a word most passages contain cannot make a passage stand out, and
    ranking every row that has it would take long. Always keeps one word."""

    def freq(lexeme: str) -> float:
        return stats.freqs.get(lexeme, stats.min_freq / 2)

    keep: list[str] = []
    expected = 0.0
    for lexeme in sorted(lexemes, key=freq):
        expected += freq(lexeme) * stats.rows
        if keep and expected > budget:
            break
        keep.append(lexeme)
    return keep


def lexical_scores(
    table: str,
    where: str,
    params: dict[str, Any],
    query: str,
    limit: int = CANDIDATES,
    *,
    large: bool = False,
) -> dict[str, float]:
    """id → score for rows of `table` (aliased t) matching `where`: the sum over
    the query's words of idf(word) × ts_rank(row, word), over the rows that
    contain any of them, divided by the sum of the words' idf: the share of the
    query, weighted by rarity, that the row holds, in [0, 1] (ts_rank of one
    word is 0.61 for one mention in the row's own text, towards 1.0 for many,
    0.30 for one in the neighbour before it). A `large` scope is ranked by its
    rarest words alone (_large_lexical_scores)."""
    lexemes = query_lexemes(query)
    if not lexemes:
        return {}
    if large:
        return _large_lexical_scores(table, where, params, lexemes, limit)
    sql = f"""
        WITH ql AS MATERIALIZED (SELECT lexeme, quote_literal(lexeme)::tsquery AS lq
                                 FROM unnest(%(lexemes)s::text[]) AS u(lexeme)),
        oq AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q FROM ql),
        hits AS MATERIALIZED (SELECT t.id, t.search_vector AS v FROM {table} t, oq
                              WHERE t.search_vector @@ oq.q AND {where}),
        n AS MATERIALIZED (SELECT count(*)::float8 AS n FROM {table} t
                           WHERE t.search_vector IS NOT NULL AND {where}),
        idf AS MATERIALIZED (
            SELECT ql.lq, ln(1 + (greatest(n.n - d.df, 0) + 0.5) / (d.df + 0.5)) AS w
            FROM ql CROSS JOIN n CROSS JOIN LATERAL (
                SELECT count(*)::float8 AS df FROM hits WHERE hits.v @@ ql.lq) d),
        total AS (SELECT sum(idf.w) AS w FROM idf)
        SELECT s.id, s.score / nullif(total.w, 0) FROM total, (
            SELECT h.id, (SELECT sum(idf.w * ts_rank(%(weights)s::float4[], h.v, idf.lq, %(norm)s))
                          FROM idf WHERE h.v @@ idf.lq) AS score
            FROM hits h) s
        ORDER BY s.score DESC, s.id LIMIT %(limit)s"""
    with transaction.atomic(), connection.cursor() as cursor:
        # The matched rows' vectors are held in memory while ranked.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            sql,
            {
                **params,
                "lexemes": lexemes,
                "weights": RANK_WEIGHTS,
                "norm": RANK_NORMALIZATION,
                "limit": limit,
            },
        )
        return {row[0]: float(row[1]) for row in cursor.fetchall()}


def _large_lexical_scores(
    table: str, where: str, params: dict[str, Any], lexemes: list[str], limit: int
) -> dict[str, float]:
    """Full-text for a huge scope: rows are selected and ranked by the query's
    rarest words only (their rarity is what idf would reward), one ts_rank per
    row, at most LARGE_MATCH_CAP rows looked at (ts_rank of an OR query is the
    mean over its words, so also in [0, 1])."""
    match = _prune(lexemes, table_lexeme_stats(table), LARGE_MATCH_BUDGET)
    sql = f"""
        WITH oq AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q
                    FROM unnest(%(match)s::text[]) AS u(lexeme)),
        hits AS MATERIALIZED (SELECT t.id, t.search_vector AS v FROM {table} t, oq
                              WHERE t.search_vector @@ oq.q AND {where} LIMIT %(cap)s)
        SELECT h.id, ts_rank(%(weights)s::float4[], h.v, oq.q, %(norm)s) AS score
        FROM hits h, oq ORDER BY score DESC, h.id LIMIT %(limit)s"""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            sql,
            {
                **params,
                "match": match,
                "cap": LARGE_MATCH_CAP,
                "weights": RANK_WEIGHTS,
                "norm": RANK_NORMALIZATION,
                "limit": limit,
            },
        )
        return {row[0]: float(row[1]) for row in cursor.fetchall()}


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def hnsw_ef_search() -> int:
    if HNSW_EF_FIXED:
        return int(HNSW_EF_FIXED)
    rows = table_lexeme_stats("memory_passage").rows
    return int(min(HNSW_EF_SEARCH_MAX, max(HNSW_EF_SEARCH, rows / HNSW_ROWS_PER_EF)))


def dense_scores(
    table: str,
    where: str,
    params: dict[str, Any],
    vector: Sequence[float],
    *,
    use_index: bool,
    limit: int = CANDIDATES,
) -> dict[str, float]:
    """id → cosine similarity of the `limit` nearest rows of this vector's size."""
    dim = len(vector)
    args = {**params, "qv": vector_literal(vector), "dim": dim, "limit": limit}
    kind = "halfvec" if dim in HALFVEC_DIMS else "vector"
    indexed = use_index and table == "memory_passage" and dim in (*HNSW_DIMS, *HALFVEC_DIMS)
    with transaction.atomic(), connection.cursor() as cursor:
        if indexed:
            # The expression must be exactly the index's for the planner to use it;
            # relaxed order + an outer sort by exact distance keeps results right.
            cursor.execute(f"SET LOCAL hnsw.ef_search = {hnsw_ef_search()}")
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute(f"SET LOCAL hnsw.max_scan_tuples = {int(HNSW_MAX_SCAN_TUPLES)}")
            distance = f"(t.embedding::{kind}({dim})) <=> %(qv)s::{kind}({dim})"
            sql = (
                f"SELECT id, d FROM (SELECT t.id, {distance} AS d FROM {table} t "
                f"WHERE t.embedding_dim = {dim} AND {where} ORDER BY d LIMIT %(limit)s) s ORDER BY d"
            )
        else:
            # A different expression from the index's: the planner cannot pick the
            # HNSW index, so the agent's own rows are scanned exactly.
            sql = (
                f"SELECT t.id, t.embedding <=> %(qv)s::vector AS d FROM {table} t "
                f"WHERE t.embedding_dim = %(dim)s AND {where} ORDER BY d LIMIT %(limit)s"
            )
        cursor.execute(sql, args)
        return {row[0]: 1.0 - float(row[1]) for row in cursor.fetchall()}


_SIZES: dict[tuple[str, str], tuple[bool, float]] = {}


def count_at_least(table: str, where: str, params: dict[str, Any], threshold: int) -> bool:
    """Whether at least `threshold` rows match, reading at most that many
    (remembered for SIZE_CACHE_TTL_S)."""
    key = (f"{table} {where} {threshold}", repr(sorted(params.items())))
    cached = _SIZES.get(key)
    if cached and time.monotonic() - cached[1] < SIZE_CACHE_TTL_S:
        return cached[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} t WHERE {where} LIMIT %(cap)s) s",
            {**params, "cap": threshold},
        )
        large = int(cursor.fetchone()[0]) >= threshold
    if len(_SIZES) > 10_000:
        _SIZES.clear()
    _SIZES[key] = (large, time.monotonic())
    return large


# --- the backend ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A WHERE clause over `t` with its parameters."""

    where: str
    params: dict[str, Any]


def passage_scope(
    agent_id: str | None,
    *,
    archive_ids: Sequence[str] | None = None,
    tags: list[str] | None = None,
    tag_match_mode: Literal["any", "all"] = "any",
    start: datetime | None = None,
    end: datetime | None = None,
) -> Scope:
    """The passages of an agent's archives, or of `archive_ids` (without an agent)."""
    if agent_id is None:
        clauses = ["t.archive_id = ANY(%(archives)s)"]
        params: dict[str, Any] = {"archives": list(archive_ids or [])}
    else:
        clauses = [
            "t.archive_id IN (SELECT archive_id FROM memory_archive_agents WHERE agent_id = %(agent)s)"
        ]
        params = {"agent": agent_id}
    if tags:
        clauses.append(
            "t.tags @> %(tags)s::varchar[]"
            if tag_match_mode == "all"
            else "t.tags && %(tags)s::varchar[]"
        )
        params["tags"] = list(tags)
    if start:
        clauses.append("t.created_at >= %(start)s")
        params["start"] = start
    if end:
        clauses.append("t.created_at <= %(end)s")
        params["end"] = end
    return Scope(" AND ".join(clauses), params)


class PostgresMemoryBackend:
    """Hybrid search: Postgres full-text (OR semantics, idf-weighted ts_rank over
    context-indexed passages) fused with pgvector cosine similarity by min-max
    normalised weighted sum. Without an embedding model it is full-text alone."""

    CANDIDATES = CANDIDATES
    LEXICAL_WEIGHT = LEXICAL_WEIGHT

    def __init__(
        self, *, embed: Embed | None, embedding_model: str, files: Callable[..., Any] | None = None
    ) -> None:
        self.embed = embed
        self.embedding_model = embedding_model
        self._files = files

    @property
    def semantic(self) -> bool:
        """Whether searches also match by meaning (an embedding model is set)."""
        return self.embed is not None

    def embed_messages_later(self, agent_id: str, items: Sequence[tuple[str, str]]) -> None:
        """Once the turn has committed, give its searchable messages vectors (one
        batched call). Best effort: a message without one is still found by words."""
        items = [(i, t) for i, t in items if t]
        if self.embed is None or not items:
            return
        transaction.on_commit(lambda: self.embed_messages(items))

    def embed_messages(self, items: Sequence[tuple[str, str]]) -> None:
        if self.embed is None:
            return
        try:
            vectors = self.embed([t for _, t in items])
        except Exception:  # noqa: BLE001 - a provider outage must not fail the turn
            log.warning(
                "could not embed %d messages with %s",
                len(items),
                self.embedding_model,
                exc_info=True,
            )
            return
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE memory_message SET embedding = %s::vector, embedding_dim = %s, embedding_model = %s "
                "WHERE id = %s",
                [
                    (vector_literal(v), len(v), self.embedding_model, i)
                    for (i, _), v in zip(items, vectors, strict=True)
                ],
            )

    def files(self, agent_id: str) -> Any:
        """The agent's files, for the file tools (memory/tools/files.py); None
        when the store was built without them."""
        if self._files is None:
            return None
        return self._files(agent_id)

    def _archive_for(self, agent_id: str) -> m.Archive:
        # The agent's own archive is the oldest one; archives attached later are shared.
        archive = m.Archive.objects.filter(agents__id=agent_id).order_by("created_at").first()
        if archive is None:
            agent = AgentRow.objects.get(pk=agent_id)
            archive = m.Archive.objects.create(
                name=f"{agent.name} archive",
                owner=agent.owner,
                organization=agent.organization,
                embedding=self.embedding_model,
            )
            archive.agents.add(agent)
        return archive

    @transaction.atomic
    def archival_insert(
        self,
        agent_id: str,
        text: str,
        tags: list[str],
        created_at: datetime | None = None,
        thread: str = "",
    ) -> str:
        """`thread` names the whole this passage is a consecutive part of (see
        passage_insert); the agent's own facts have none."""
        archive = self._archive_for(agent_id)
        vector = self.embed([text])[0] if self.embed else None
        return passage_insert(
            archive=archive,
            text=text,
            tags=tags,
            created_at=created_at,
            vector=vector,
            embedding_model=self.embedding_model,
            thread=thread,
        )

    def archival_search(
        self,
        agent_id: str,
        query: str,
        *,
        tags: list[str] | None,
        tag_match_mode: Literal["any", "all"] = "any",
        top_k: int = 10,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        scope = passage_scope(
            agent_id, tags=tags, tag_match_mode=tag_match_mode, start=start, end=end
        )
        return self._passages(self.passage_hits(scope, query, top_k))

    def passage_hits(self, scope: Scope, query: str, top_k: int) -> list[tuple[str, float]]:
        """(passage id, relevance) of the best `top_k` passages in `scope`, best
        first; the newest when the query is empty."""
        query = (query or "").strip()
        if not query:
            return self._newest(scope, top_k)
        candidates = max(self.CANDIDATES, top_k)
        # Bounded counts decide: an exact scan of a small scope; pruned full-text
        # and the ANN index for a large one.
        large = count_at_least("memory_passage", scope.where, scope.params, ANN_MIN_PASSAGES)
        lexical = lexical_scores(
            "memory_passage", scope.where, scope.params, query, candidates, large=large
        )
        semantic: dict[str, float] = {}
        if self.embed:
            vector = self.embed([query])[0]
            dense = Scope(
                f"{scope.where} AND t.embedding_model = %(model)s",
                {**scope.params, "model": self.embedding_model},
            )
            semantic = dense_scores(
                "memory_passage",
                dense.where,
                dense.params,
                vector,
                use_index=large and self._ann_worthy(dense, len(vector)),
                limit=candidates,
            )
        ranked = fuse(lexical, semantic, self.LEXICAL_WEIGHT)
        return sorted(ranked.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]

    @staticmethod
    def _ann_worthy(dense: Scope, dim: int) -> bool:
        """The index pays off, and iterative scans find enough rows, only when
        the vectors searched are many and a fair share of the index: counted
        with their filters (model, size, tags, dates)."""
        threshold = max(
            ANN_MIN_PASSAGES, int(ANN_MIN_SHARE * table_lexeme_stats("memory_passage").rows)
        )
        return count_at_least(
            "memory_passage",
            f"t.embedding_dim = {int(dim)} AND {dense.where}",
            dense.params,
            threshold,
        )

    def _newest(self, scope: Scope, limit: int) -> list[tuple[str, float]]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT t.id FROM memory_passage t WHERE {scope.where} "
                f"ORDER BY t.created_at DESC, t.sequence_id DESC LIMIT %(limit)s",
                {**scope.params, "limit": limit},
            )
            return [(row[0], 0.0) for row in cursor.fetchall()]

    def _passages(self, ranked: list[tuple[str, float]]) -> list[dict[str, Any]]:
        rows = {p.id: p for p in m.Passage.objects.filter(pk__in=[pid for pid, _ in ranked])}
        return [
            {
                "id": pid,
                "content": rows[pid].text,
                "tags": rows[pid].tags,
                "timestamp": rows[pid].created_at,
                "relevance": round(score, 4),
            }
            for pid, score in ranked
            if pid in rows
        ]

    def conversation_search(
        self,
        agent_id: str,
        query: str | None,
        *,
        roles: list[str] | None,
        limit: int = 10,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        order = self.message_hits([agent_id], query, roles=roles, limit=limit, start=start, end=end)
        rows = {r.id: r for r in m.Message.objects.filter(pk__in=[i for i, _ in order])}
        results = []
        for mid, score in order:
            row = rows.get(mid)
            if row is None:
                continue
            results.append(
                {
                    "id": mid,
                    "role": row.role,
                    "content": message_search_text(row),
                    "timestamp": row.created_at,
                    "relevance": round(score, 4),
                }
            )
        return results

    def message_hits(
        self,
        agent_ids: Sequence[str],
        query: str | None,
        *,
        roles: list[str] | None,
        limit: int = 10,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[tuple[str, float]]:
        """(message id, relevance) of the best `limit` messages of these agents'
        conversations, best first; the newest when the query is empty. Dense
        scores come from this backend's embedder (one agent's)."""
        clauses = [
            "t.agent_id = ANY(%(agents)s)",
            "(t.kind = %(user_kind)s OR t.role = 'assistant' OR t.role = 'tool')",
            # Searching must not find the search itself.
            "NOT (t.role = 'assistant' AND t.content @> %(self_call)s::jsonb)",
        ]
        params: dict[str, Any] = {
            "agents": list(agent_ids),
            "user_kind": MessageKind.USER.value,
            "self_call": '[{"name": "conversation_search"}]',
        }
        if roles:
            clauses.append("t.role = ANY(%(roles)s)")
            params["roles"] = list(roles)
        else:
            clauses.append("t.role <> 'tool'")
        if start:
            clauses.append("t.created_at >= %(start)s")
            params["start"] = start
        if end:
            clauses.append("t.created_at <= %(end)s")
            params["end"] = end
        where = " AND ".join(clauses)
        text = (query or "").strip()
        order: list[tuple[str, float]]
        with connection.cursor() as cursor:
            if text:
                candidates = max(self.CANDIDATES, limit)
                scores = lexical_scores("memory_message", where, params, text, candidates)
                if self.embed:
                    vector = self.embed([text])[0]
                    semantic = dense_scores(
                        "memory_message",
                        f"{where} AND t.embedding_model = %(model)s",
                        {**params, "model": self.embedding_model},
                        vector,
                        use_index=False,
                        limit=candidates,
                    )
                    scores = fuse(scores, semantic, self.LEXICAL_WEIGHT)
                if not scores:
                    # No word matched (names, code, partial words): fall back to substring.
                    cursor.execute(
                        f"SELECT t.id FROM memory_message t WHERE {where} AND t.search_vector IS NOT NULL "
                        f"AND t.content::text ILIKE %(like)s ORDER BY t.sequence_id DESC LIMIT %(limit)s",
                        {**params, "like": "%" + _like_escape(text) + "%", "limit": limit},
                    )
                    scores = {row[0]: 0.0 for row in cursor.fetchall()}
                order = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
            else:
                cursor.execute(
                    f"SELECT t.id FROM memory_message t WHERE {where} "
                    f"ORDER BY t.sequence_id DESC LIMIT %(limit)s",
                    {**params, "limit": limit},
                )
                order = [(row[0], 0.0) for row in cursor.fetchall()]
        return order


def message_search_text(row: m.Message) -> str:
    """What a search shows of a message: its searchable words, or a tool's result."""
    message = message_from_row(row)
    return searchable_text(message) or " ".join(p.content for p in message.tool_returns)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

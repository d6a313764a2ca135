"""Archival and recall search: OR-semantics full-text with idf, passages indexed
with their neighbours and dates, fusion with vectors, filters, scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memory import models as m
from memory.store.search import PostgresMemoryBackend, fuse

# A tiny embedding "model": one axis per concept, so meaning is checkable.
_CONCEPTS = [
    ("cat", "feline", "kitten", "miso"),
    ("boat", "sail", "harbour"),
    ("bread", "bake", "flour"),
]


def concept_embed(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        words = text.lower()
        vec = [1.0 if any(w in words for w in group) else 0.0 for group in _CONCEPTS] + [0.1]
        norm = sum(x * x for x in vec) ** 0.5
        out.append([x / norm for x in vec])
    return out


@pytest.fixture
def agent(alice):
    from agents.services.lifecycle import agent_create

    return agent_create(owner=alice, name="searcher", model="", include_base_tools=False)


@pytest.fixture
def other_agent(alice):
    from agents.services.lifecycle import agent_create

    return agent_create(owner=alice, name="other", model="", include_base_tools=False)


def lexical() -> PostgresMemoryBackend:
    return PostgresMemoryBackend(embed=None, embedding_model="")


def texts(hits):
    return [h["content"] for h in hits]


def test_any_query_word_is_enough_to_find_a_passage(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Alice's cat is called Miso.", [])
    backend.archival_insert(agent.id, "The harbour opens at nine.", [])
    hits = backend.archival_search(agent.id, "what is the name of my cat pet", tags=None)
    assert texts(hits)[0] == "Alice's cat is called Miso."


def test_a_rare_word_outranks_a_common_one(agent):
    backend = lexical()
    for i in range(8):
        backend.archival_insert(
            agent.id, f"Meeting notes, week {i}: nothing new about the project.", []
        )
        backend.archival_insert(agent.id, f"Weather log {i}: sunny.", [])
    backend.archival_insert(agent.id, "The project codename is Zanzibar.", [])
    hits = backend.archival_search(agent.id, "project zanzibar", tags=None, top_k=3)
    assert texts(hits)[0] == "The project codename is Zanzibar."


def test_the_answer_is_found_by_the_words_of_the_turn_before_it(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Bob: Where did you get that great pizza?", [], thread="c1")
    answer = backend.archival_insert(
        agent.id, "Alice: At Napoli, on Fifth Street.", [], thread="c1"
    )
    for i in range(5):
        backend.archival_insert(agent.id, f"Filler line {i} about the weather.", [], thread="c1")
    hits = backend.archival_search(agent.id, "where did Alice get pizza", tags=None, top_k=5)
    assert answer in [h["id"] for h in hits]


def test_a_passage_is_found_by_the_words_of_the_turn_after_it(agent):
    backend = lexical()
    for i in range(3):
        backend.archival_insert(agent.id, f"Filler line {i} about the weather.", [], thread="c1")
    first = backend.archival_insert(
        agent.id, "Alice: I finally adopted one last week!", [], thread="c1"
    )
    backend.archival_insert(agent.id, "Bob: Congratulations on the new greyhound!", [], thread="c1")
    row = m.Passage.objects.get(pk=first)
    assert "greyhound" in str(row.search_vector)  # rewritten when its next neighbour arrived
    hits = backend.archival_search(agent.id, "greyhound", tags=None, top_k=5)
    assert first in [h["id"] for h in hits]
    assert hits[0]["id"] != first  # the passage that says it still ranks first


def test_own_words_rank_above_a_neighbours_words(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Bob: I love sailing.", [], thread="c1")
    backend.archival_insert(agent.id, "Alice: Me too, every summer.", [], thread="c1")
    hits = backend.archival_search(agent.id, "sailing", tags=None, top_k=2)
    assert texts(hits) == ["Bob: I love sailing.", "Alice: Me too, every summer."]


def test_facts_saved_one_after_another_do_not_find_each_other(agent):
    backend = lexical()
    for fact in (
        "I have a dentist appointment on Tuesday.",
        "My bicycle is red.",
        "I take Portuguese lessons on Thursdays.",
        "My favourite fruit is mango.",
        "I keep a sourdough starter in the fridge.",
    ):
        backend.archival_insert(agent.id, fact, [])
    hits = backend.archival_search(agent.id, "dentist", tags=None, top_k=10)
    assert texts(hits) == ["I have a dentist appointment on Tuesday."]


def test_neighbours_come_only_from_the_same_thread(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Bob: Did you see the comet?", [], thread="c1")
    backend.archival_insert(agent.id, "Buy oat milk.", [])  # a fact in between
    backend.archival_insert(agent.id, "Carol: Planting tulips today.", [], thread="c2")
    answer = backend.archival_insert(agent.id, "Alice: Yes, last night!", [], thread="c1")
    hits = backend.archival_search(agent.id, "comet", tags=None, top_k=10)
    assert texts(hits) == ["Bob: Did you see the comet?", "Alice: Yes, last night!"]
    assert hits[1]["id"] == answer


def test_relevance_is_the_share_of_the_query_a_passage_holds(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Alice adopted a greyhound named Pixel.", [])
    backend.archival_insert(agent.id, "Pixel is also the name of a phone.", [])
    both = backend.archival_search(agent.id, "greyhound Pixel", tags=None)
    assert 0 < both[1]["relevance"] < both[0]["relevance"] <= 1
    # A query that finds the same passage by fewer of its words scores it lower.
    partial = backend.archival_search(agent.id, "greyhound zeppelin", tags=None)
    assert partial[0]["relevance"] < both[0]["relevance"]


def test_the_date_a_passage_was_written_is_searchable(agent):
    backend = lexical()
    backend.archival_insert(
        agent.id,
        "Went to the support group.",
        [],
        created_at=datetime(2023, 5, 8, 13, 56, tzinfo=UTC),
    )
    backend.archival_insert(
        agent.id, "Went to the climbing gym.", [], created_at=datetime(2024, 2, 1, tzinfo=UTC)
    )
    hits = backend.archival_search(agent.id, "what happened in May 2023", tags=None, top_k=1)
    assert texts(hits) == ["Went to the support group."]


def test_results_carry_relevance_and_timestamps(agent):
    backend = lexical()
    when = datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    backend.archival_insert(agent.id, "Alice likes tea.", ["food"], created_at=when)
    [hit] = backend.archival_search(agent.id, "tea", tags=None)
    assert hit["timestamp"] == when and hit["tags"] == ["food"] and hit["relevance"] > 0


def test_tags_filter_any_or_all(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Trip to Lisbon, flights booked.", ["travel", "work"])
    backend.archival_insert(agent.id, "Trip to Porto for fun.", ["travel"])
    anyof = backend.archival_search(agent.id, "trip", tags=["work", "travel"], tag_match_mode="any")
    allof = backend.archival_search(agent.id, "trip", tags=["work", "travel"], tag_match_mode="all")
    assert len(anyof) == 2 and texts(allof) == ["Trip to Lisbon, flights booked."]


def test_date_range_filters_passages(agent):
    backend = lexical()
    base = datetime(2024, 3, 1, tzinfo=UTC)
    for day in range(5):
        backend.archival_insert(
            agent.id, f"Standup day {day}", [], created_at=base + timedelta(days=day)
        )
    hits = backend.archival_search(
        agent.id,
        "standup",
        tags=None,
        start=base + timedelta(days=1),
        end=base + timedelta(days=2, hours=1),
    )
    assert sorted(texts(hits)) == ["Standup day 1", "Standup day 2"]


def test_empty_query_lists_the_newest_passages(agent):
    backend = lexical()
    base = datetime(2024, 3, 1, tzinfo=UTC)
    for day in range(3):
        backend.archival_insert(agent.id, f"note {day}", [], created_at=base + timedelta(days=day))
    assert texts(backend.archival_search(agent.id, " ", tags=None, top_k=2)) == ["note 2", "note 1"]


def test_an_agent_never_sees_another_agents_passages(agent, other_agent):
    backend = lexical()
    backend.archival_insert(other_agent.id, "The secret code is 4711.", [])
    backend.archival_insert(agent.id, "My code review is on Monday.", [])
    assert texts(backend.archival_search(agent.id, "secret code", tags=None)) == [
        "My code review is on Monday."
    ]


def test_a_query_of_only_stop_words_finds_nothing_without_error(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Alice likes tea.", [])
    assert backend.archival_search(agent.id, "the of and", tags=None) == []


def test_odd_characters_in_queries_are_safe(agent):
    backend = lexical()
    backend.archival_insert(agent.id, "Alice's e-mail is alice@example.com", [])
    for query in ["alice's", "'; DROP TABLE x; --", "a & b | !c", "e-mail:*", "ünïcödé ✓"]:
        backend.archival_search(agent.id, query, tags=None)
    assert texts(backend.archival_search(agent.id, "alice@example.com", tags=None))


def test_without_an_embedding_model_search_is_full_text_only(agent):
    backend = lexical()
    assert backend.semantic is False
    backend.archival_insert(agent.id, "The kitten sleeps all day.", [])
    assert backend.archival_search(agent.id, "feline", tags=None) == []
    assert m.Passage.objects.get().embedding is None


def test_meaning_finds_a_passage_that_shares_no_word_with_the_query(agent):
    backend = PostgresMemoryBackend(embed=concept_embed, embedding_model="test/concepts")
    assert backend.semantic is True
    backend.archival_insert(agent.id, "The kitten sleeps all day.", [])
    backend.archival_insert(agent.id, "We bake bread on Sundays.", [])
    hits = backend.archival_search(agent.id, "feline", tags=None, top_k=1)
    assert texts(hits) == ["The kitten sleeps all day."]
    row = m.Passage.objects.get(pk=hits[0]["id"])
    assert row.embedding_dim == 4 and row.embedding_model == "test/concepts"


def test_words_and_meaning_are_fused(agent):
    backend = PostgresMemoryBackend(embed=concept_embed, embedding_model="test/concepts")
    backend.archival_insert(agent.id, "Harbour fees went up.", [])  # word match only
    backend.archival_insert(agent.id, "The kitten chased the harbour cat.", [])  # both
    backend.archival_insert(agent.id, "A feline nap.", [])  # meaning only
    hits = backend.archival_search(agent.id, "harbour cat", tags=None, top_k=3)
    assert texts(hits)[0] == "The kitten chased the harbour cat."
    assert len(hits) == 3


def test_passages_of_another_model_are_searched_by_words_only(agent):
    old = PostgresMemoryBackend(embed=lambda ts: [[1.0, 0.0]] * len(ts), embedding_model="test/old")
    old.archival_insert(agent.id, "Sailing on the harbour.", [])
    new = PostgresMemoryBackend(embed=concept_embed, embedding_model="test/concepts")
    new.archival_insert(agent.id, "A kitten.", [])
    assert texts(new.archival_search(agent.id, "feline", tags=None)) == ["A kitten."]
    assert "Sailing on the harbour." in texts(new.archival_search(agent.id, "harbour", tags=None))


def test_fusion_weights_absolute_scores_the_same_for_every_query():
    fused = fuse({"a": 0.6, "b": 0.2}, {"b": 0.9, "c": -0.3}, lexical_weight=0.5)
    assert fused["a"] == pytest.approx(0.3) and fused["b"] == pytest.approx(0.55)
    assert fused["c"] == pytest.approx(0.0)
    assert fuse({"a": 0.4}, {}) == {"a": 0.4}
    assert fuse({}, {"c": 0.3}) == {"c": pytest.approx(0.15)}

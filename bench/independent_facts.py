"""Independent facts: does a search bring back only passages that share a word
with the query, when unrelated facts were saved one after another?

    .venv/bin/python -m bench.independent_facts [--json PATH]

Facts in English, Chinese, Japanese and Korean, none related to the next, are
saved into one agent's archival memory in a row through the real write path
(memory/services/archival.passage_insert, no thread: the agent's own facts),
and each fact's query is asked through the real search (passage_search). A
result is unrelated when its own text shares no word with the query (after
stemming or CJK segmentation: the search functions of the database decide).
Target: no unrelated result, and every fact found first.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.common import table, throwaway_database, write_json

# (fact, query): the query names the fact by one or two of its words.
FACTS = [
    ("I have a dentist appointment on Tuesday at 3pm.", "dentist"),
    ("My new bicycle is bright red.", "bicycle"),
    ("I started Portuguese lessons with a tutor.", "Portuguese"),
    ("Mango is my favourite fruit.", "mango"),
    ("I keep a sourdough starter in the fridge.", "sourdough"),
    ("My passport expires in March 2027.", "passport expiry"),
    ("The wifi password at the cabin is on the fridge door.", "wifi password"),
    ("I am allergic to penicillin.", "allergies"),
    ("用户养了一只叫豆豆的橘猫。", "橘猫"),
    ("用户下个月去成都出差。", "成都出差"),
    ("使用者每個禮拜三去打羽毛球。", "羽毛球"),
    ("ユーザーは毎朝ジョギングをしている。", "ジョギング"),
    ("ユーザーの母は京都に住んでいる。", "京都"),
    ("사용자는 땅콩 알레르기가 있다.", "땅콩"),
    ("사용자는 주말마다 등산을 간다.", "등산"),
    ("用户用Notion管理读书笔记。", "Notion"),
]


def shares_a_word(text: str, query: str) -> bool:
    from django.db import connection

    from memory.store.search import DOC_TEXT, QUERY_TEXT, TS_CONFIG

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT to_tsvector(%(cfg)s, {DOC_TEXT}(%(text)s)) @@ "
            f"coalesce(nullif(array_to_string(tsvector_to_array("
            f"to_tsvector(%(cfg)s, {QUERY_TEXT}(%(query)s))), ' | '), ''), 'zzz')::tsquery",
            {"cfg": TS_CONFIG, "text": text, "query": query},
        )
        return bool(cursor.fetchone()[0])


def run(owner: Any) -> dict[str, Any]:
    from agents.services.lifecycle import agent_create
    from memory.services.archival import passage_insert, passage_search

    agent = agent_create(owner=owner, name="facts", model="", include_base_tools=False)
    for fact, _ in FACTS:
        passage_insert(agent=agent, text=fact)
    rows = []
    for fact, query in FACTS:
        hits = passage_search(agent=agent, query=query, top_k=10)
        unrelated = [h["content"] for h in hits if not shares_a_word(h["content"], query)]
        rows.append(
            {
                "query": query,
                "results": len(hits),
                "first_is_fact": bool(hits) and hits[0]["content"] == fact,
                "unrelated": unrelated,
            }
        )
    return {
        "queries": len(rows),
        "results": sum(r["results"] for r in rows),
        "unrelated": sum(len(r["unrelated"]) for r in rows),
        "hit@1": sum(r["first_is_fact"] for r in rows) / len(rows),
        "per_query": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", default=None, help="where to write the results")
    args = parser.parse_args(argv)
    with throwaway_database():
        from agents.models import Organization, User

        org = Organization.objects.create(name="bench")
        owner = User.objects.create_user(username="bench", password="x", organization=org)
        out = run(owner)
    print("\nIndependent facts — full-text only (no embedding model)")
    print(
        table(
            ["queries", "results", "unrelated results", "hit@1"],
            [[out["queries"], out["results"], out["unrelated"], out["hit@1"]]],
        )
    )
    for r in out["per_query"]:
        for text in r["unrelated"]:
            print(f"  {r['query']!r} brought back unrelated {text!r}")
    print(f"results: {write_json(args.json, 'independent_facts', out)}")
    return 0 if out["unrelated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Search text that finds Chinese, Japanese and Korean by their words (issue 15),
and threads of passages that belong together.

Postgres' parser keeps a run of Han, kana or Hangul as one token ("用户养了一只叫
豆豆的橘猫" is a single word), so no query word ever matched it. Two SQL
functions, applied before `to_tsvector`, cut those runs the way CJK search
engines without a dictionary do (Lucene's CJK analyzer): a document gives every
CJK character and every pair of adjacent ones (橘猫 -> 橘 猫 橘猫); a query gives
its pairs (and a lone character as itself), so 橘猫 finds 橘猫 but not every
passage with 猫 or 橘 in it. Latin text in between (iPhone, Python) is left to the
English configuration, which keeps stemming it. NFKC folds full-width letters
and half-width katakana first; CJK punctuation becomes a space (in a C locale
Postgres counts it as a letter). Plain SQL, so embedded and external Postgres
behave alike, no extension (pg_bigm, zhparser) and no dictionary in memory.
Measured against dictionary segmenters in bench/multilingual_retrieval.py.

`thread` (issue 15): passages that are consecutive parts of one whole (turns of
one imported conversation, parts of one document) share a thread and are
indexed with their neighbours' words; a passage without one (a fact the agent
saved) is indexed with its own words only.
"""

from django.db import migrations, models

CJK = (
    "\\u1100-\\u11ff\\u3005-\\u3007\\u3040-\\u309f\\u30a0-\\u30fa\\u30fc-\\u30ff"
    "\\u3130-\\u318f\\u31f0-\\u31ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\ua960-\\ua97f"
    "\\uac00-\\ud7af\\uf900-\\ufaff\\U00020000-\\U0002ffff"
)
# CJK symbols and punctuation, the katakana middle dot, full-width forms NFKC leaves.
PUNCT = "\\u3000-\\u3004\\u3008-\\u303f\\u30fb\\uff01-\\uff65\\uffe0-\\uffee"

FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION ade_search_text(doc text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    SELECT regexp_replace(s.n, '([{CJK}])', ' \\1 ', 'g') || ' ' || coalesce((
        SELECT string_agg(substr(r[1], i, 2), ' ')
        FROM regexp_matches(s.n, '[{CJK}]{{2,}}', 'g') r,
             generate_series(1, char_length(r[1]) - 1) i), '')
    FROM (SELECT regexp_replace(normalize(doc, NFKC), '[{PUNCT}]', ' ', 'g') AS n) s
$fn$;

CREATE OR REPLACE FUNCTION ade_search_query(query text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    SELECT regexp_replace(regexp_replace(s.n, '[{CJK}]{{2,}}', ' ', 'g'), '([{CJK}])', ' \\1 ', 'g')
        || ' ' || coalesce((
        SELECT string_agg(substr(r[1], i, 2), ' ')
        FROM regexp_matches(s.n, '[{CJK}]{{2,}}', 'g') r,
             generate_series(1, char_length(r[1]) - 1) i), '')
    FROM (SELECT regexp_replace(normalize(query, NFKC), '[{PUNCT}]', ' ', 'g') AS n) s
$fn$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0005_hnsw_ef_construction"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTIONS,
            "DROP FUNCTION IF EXISTS ade_search_text(text); DROP FUNCTION IF EXISTS ade_search_query(text);",
        ),
        migrations.AddField(
            model_name="passage",
            name="thread",
            field=models.CharField(blank=True, default="", max_length=200, db_default=""),
        ),
        migrations.AddIndex(
            model_name="passage",
            index=models.Index(
                fields=["archive", "thread", "sequence_id"], name="passage_thread_seq"
            ),
        ),
    ]

"""Search indexes for archival memory (issue 6).

- `sequence_id`: insertion order inside an archive, so each passage can be
  indexed for full-text together with its neighbours.
- One partial HNSW index per common embedding size, on an expression that casts
  the dimensionless `embedding` column to its real size. Vectors are stored at
  their real dimension (no padding); a search uses the index for its size only
  when an agent's archive is large (memory/search.py decides by count), and an
  exact scan otherwise. Sizes past pgvector's 2,000-d `vector` index limit use
  `halfvec`. Keep the list in step with memory.store.search.HNSW_DIMS.
"""

from django.db import migrations, models

HNSW_DIMS = (384, 768, 1024, 1536)
HALFVEC_DIMS = (3072,)


def _create():
    sql = []
    for dim in HNSW_DIMS:
        sql.append(
            f"CREATE INDEX IF NOT EXISTS passage_hnsw_{dim} ON memory_passage USING hnsw "
            f"((embedding::vector({dim})) vector_cosine_ops) WHERE embedding_dim = {dim}"
        )
    for dim in HALFVEC_DIMS:
        sql.append(
            f"CREATE INDEX IF NOT EXISTS passage_hnsw_{dim} ON memory_passage USING hnsw "
            f"((embedding::halfvec({dim})) halfvec_cosine_ops) WHERE embedding_dim = {dim}"
        )
    return sql


def _drop():
    return [f"DROP INDEX IF EXISTS passage_hnsw_{dim}" for dim in (*HNSW_DIMS, *HALFVEC_DIMS)]


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0001_initial'),
        ('memory', '0001_initial'),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE IF NOT EXISTS memory_passage_sequence_id_seq",
            "DROP SEQUENCE IF EXISTS memory_passage_sequence_id_seq",
        ),
        migrations.AddField(
            model_name='passage',
            name='sequence_id',
            field=models.BigIntegerField(db_default=models.Func(models.Value('memory_passage_sequence_id_seq'), function='nextval', output_field=models.BigIntegerField()), editable=False),
        ),
        migrations.AddIndex(
            model_name='passage',
            index=models.Index(fields=['archive', 'sequence_id'], name='passage_archive_seq'),
        ),
        migrations.RunSQL(_create(), _drop()),
    ]

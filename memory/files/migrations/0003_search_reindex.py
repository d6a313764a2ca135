"""Re-index file chunks holding Chinese, Japanese or Korean text with the
search functions of memory/migrations/0006_search_text (the vector the chunk
processing writes: memory/services/file_processing._insert_chunks). Plain SQL:
the folders app never imports the store."""

from django.db import migrations

CJK = (
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            """UPDATE sources_sourcepassage p SET search_vector =
                   setweight(to_tsvector('english', ade_search_text(p.text)), 'A')
                   || setweight(to_tsvector('english', ade_search_text(f.file_name)), 'D')
               FROM sources_sourcefile f
               WHERE f.id = p.file_id AND (p.text ~ %(cjk)s OR f.file_name ~ %(cjk)s)""",
            {"cjk": CJK},
        )
        if cursor.rowcount:
            print(f"\n  search index: {cursor.rowcount} file chunks with CJK text", end="")


class Migration(migrations.Migration):
    dependencies = [
        ("sources", "0002_job_lease"),
        ("memory", "0006_search_text"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]

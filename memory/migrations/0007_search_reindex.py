"""Re-index archival passages and recall messages for CJK words and passage
threads (memory/store/search_reindex.py), printing progress."""

from django.db import migrations

from memory.store.search_reindex import reindex_messages, reindex_passages


def forwards(apps, schema_editor):
    def report(line: str) -> None:
        print(f"\n  search index: {line}", end="", flush=True)

    reindex_passages(report)
    reindex_messages(report)


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0006_search_text"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]

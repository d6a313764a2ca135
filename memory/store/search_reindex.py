"""Re-indexing what was indexed before CJK words and passage threads existed
(issue 15), run once with progress by memory/migrations/0007_search_reindex
(file chunks: memory/files/migrations/0003_search_reindex).

- Archival passages: all of them, in batches of archives. Until now every
  passage was indexed with the words of the passages inserted around it; a
  passage without a thread (all existing ones) now has its own words only.
- Recall messages: only where Chinese, Japanese or Korean text is (elsewhere
  the words are the same as before): the messages of every agent that has
  such a message.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction

from memory import models as m
from memory.store.rows import message_from_row, searchable_text
from memory.store.search import index_archives, write_message_vectors

# A character of a script written without spaces between words (or, for
# Hangul, with particles attached): what memory/migrations/0006_search_text cuts.
CJK_REGEX = (
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)
ARCHIVE_BATCH = 200
MESSAGE_BATCH = 500

Report = Callable[[str], None]


def reindex_passages(report: Report) -> int:
    archive_ids = list(m.Archive.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(archive_ids), ARCHIVE_BATCH):
        with transaction.atomic():
            index_archives(archive_ids[start : start + ARCHIVE_BATCH])
        report(
            f"archival passages: {min(start + ARCHIVE_BATCH, len(archive_ids))}/{len(archive_ids)} archives"
        )
    return len(archive_ids)


def reindex_agent_messages(agent_id: str) -> int:
    rows = (
        m.Message.objects.filter(agent_id=agent_id, search_vector__isnull=False)
        .order_by("sequence_id")
        .iterator(chunk_size=MESSAGE_BATCH)
    )
    before: list[str] = []
    batch: list[tuple[str, str]] = []
    count = 0
    for row in rows:
        text = searchable_text(message_from_row(row))
        if not text:
            continue
        batch.append((row.id, text))
        if len(batch) >= MESSAGE_BATCH:
            write_message_vectors(batch, before)
            before = [t for _, t in batch[-2:]]
            count += len(batch)
            batch = []
    if batch:
        write_message_vectors(batch, before)
        count += len(batch)
    return count


def reindex_messages(report: Report) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT agent_id FROM memory_message "
            "WHERE search_vector IS NOT NULL AND content::text ~ %s ORDER BY agent_id",
            [CJK_REGEX],
        )
        agent_ids = [row[0] for row in cursor.fetchall()]
    for n, agent_id in enumerate(agent_ids, 1):
        with transaction.atomic():
            count = reindex_agent_messages(agent_id)
        report(f"recall messages: agent {n}/{len(agent_ids)} ({count} messages)")
    return len(agent_ids)

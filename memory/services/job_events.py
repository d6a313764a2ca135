"""Progress of background jobs, published live: to the agent's group for its
jobs (re-embedding) and to every attached agent's and the folder's group for a
file being processed."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from memory.services.events import publish

log = logging.getLogger(__name__)


def source_group(source_id: str) -> str:
    return f"source.{source_id}"


def publish_source(source_id: str, payload: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(source_group(source_id), {"type": "source.event", "payload": payload})
    except Exception:  # pragma: no cover - depends on the channel layer backend
        log.exception("could not publish an event for %s", source_id)


def publish_job(job: Any) -> None:
    from memory.services.jobs import job_payload

    payload = job_payload(job)
    if job.agent_id:
        publish(job.agent_id, payload)
    if job.file_id:
        from memory.files.models import SourceFile

        file = SourceFile.objects.filter(pk=job.file_id).only("source_id").first()
        if file is not None:
            payload["job"]["source_id"] = file.source_id
            publish_source(file.source_id, payload)
            for agent_id in file.source.agents.values_list("id", flat=True):
                publish(agent_id, payload)

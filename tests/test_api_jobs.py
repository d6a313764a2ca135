"""/v1/jobs: background jobs (file processing, re-embedding) listed and read
with their progress; Alice and her team see theirs, Charlie sees nothing."""

from __future__ import annotations

import pytest

from agents.services.lifecycle import agent_create
from memory.services.files import file_upload, source_create
from memory.services.jobs import run_pending
from memory.services.reembed import reembed_start
from tests.api_helpers import *  # noqa: F403 - fixtures


@pytest.fixture
def work(alice):
    """A processed file, a file still queued, and a re-embedding job of an agent."""
    folder = source_create(owner=alice, name="handbook")
    _, processed = file_upload(
        source=folder, file_name="leave.md", data=b"# Leave\n25 days a year."
    )
    run_pending()
    _, queued = file_upload(source=folder, file_name="travel.txt", data=b"Book trains, not planes.")
    agent = agent_create(owner=alice, name="clerk", model="", include_base_tools=False)
    reembedding = reembed_start(agent=agent, embedding="openai/text-embedding-3-small")
    return {
        "folder": folder,
        "agent": agent,
        "processed": processed,
        "queued": queued,
        "reembed": reembedding,
    }


def ids(response):
    assert response.status_code == 200, response.content
    return [job["id"] for job in response.json()]


def test_alice_lists_her_jobs_newest_first_with_their_progress(as_alice, work):
    assert ids(as_alice.get("/v1/jobs/")) == [
        work["reembed"].id,
        work["queued"].id,
        work["processed"].id,
    ]
    assert ids(as_alice.get("/v1/jobs/", order="asc"))[0] == work["processed"].id
    done = as_alice.get(f"/v1/jobs/{work['processed'].id}").json()
    assert done["kind"] == "file_process" and done["status"] == "completed"
    assert (done["done"], done["total"], done["progress"]) == (1, 1, 1.0)
    assert done["source_id"] == work["folder"].id and done["completed_at"] is not None
    assert done["job_type"] == "job" and done["metadata"]["kind"] == "file_process"
    waiting = as_alice.get(f"/v1/jobs/{work['queued'].id}").json()
    assert waiting["status"] == "queued" and waiting["completed_at"] is None


def test_jobs_filter_by_folder_agent_kind_and_activity(as_alice, work):
    folder = work["folder"].id
    assert ids(as_alice.get("/v1/jobs/", folder_id=folder)) == [
        work["queued"].id,
        work["processed"].id,
    ]
    assert ids(as_alice.get("/v1/jobs/", source_id=folder)) == [
        work["queued"].id,
        work["processed"].id,
    ]
    assert ids(as_alice.get("/v1/jobs/", agent_id=work["agent"].id)) == [work["reembed"].id]
    assert ids(as_alice.get("/v1/jobs/", kind="reembed")) == [work["reembed"].id]
    assert ids(as_alice.get("/v1/jobs/active")) == [work["reembed"].id, work["queued"].id]
    assert ids(as_alice.get("/v1/jobs/", active="true", limit=1)) == [work["reembed"].id]


def test_bob_on_alices_team_sees_her_jobs(as_bob, work):
    assert len(ids(as_bob.get("/v1/jobs/"))) == 3
    assert as_bob.get(f"/v1/jobs/{work['reembed'].id}").status_code == 200


def test_charlie_sees_none_of_them(as_charlie, work):
    assert ids(as_charlie.get("/v1/jobs/")) == []
    assert ids(as_charlie.get("/v1/jobs/active")) == []
    assert ids(as_charlie.get("/v1/jobs/", agent_id=work["agent"].id)) == []
    for key in ("processed", "queued", "reembed"):
        assert as_charlie.get(f"/v1/jobs/{work[key].id}").status_code == 404


def test_an_unknown_job_is_not_found(as_alice):
    assert as_alice.get("/v1/jobs/job-00000000-0000-4000-8000-000000000000").status_code == 404

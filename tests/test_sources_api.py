"""/v1/folders: create, upload (processed in the background, status and
progress polled), attach to an agent, search its files; strangers see nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from ninja import NinjaAPI
from ninja.testing import TestClient

from agents.auth import ApiKeyAuth
from agents.errors import DomainError
from agents.services.accounts import apikey_create
from memory.api.folders import router
from memory.services.jobs import run_pending


def _api() -> NinjaAPI:
    """The real /v1 API when it mounts this router, else one for this test."""
    if getattr(router, "api", None) is not None:
        return router.api
    api = NinjaAPI(auth=ApiKeyAuth(), urls_namespace="sources-under-test")

    @api.exception_handler(DomainError)
    def domain_error(request, exc):
        return api.create_response(request, {"detail": exc.message}, status=exc.status)

    api.add_router("/", router)
    return api


CLIENT = TestClient(_api())


class As:
    def __init__(self, user):
        _, secret = apikey_create(user=user, name="test")
        self.headers = {"Authorization": f"Bearer {secret}"}

    def get(self, path):
        return CLIENT.get(path, headers=self.headers)

    def post(self, path, json=None, **kw):
        return CLIENT.post(path, json=json, headers=self.headers, **kw)

    def patch(self, path):
        return CLIENT.patch(path, headers=self.headers)

    def delete(self, path):
        return CLIENT.delete(path, headers=self.headers)

    def upload(self, folder_id, name, data, prefix="folders"):
        return CLIENT.post(
            f"/{prefix}/{folder_id}/upload",
            headers=self.headers,
            FILES={"file": SimpleUploadedFile(name, data, content_type="text/plain")},
        )


@pytest.fixture
def alice_api(alice):
    return As(alice)


@pytest.fixture
def charlie_api(charlie):
    return As(charlie)


def test_alice_uploads_a_file_and_watches_it_complete(alice_api):
    folder = alice_api.post("/folders/", json={"name": "research"}).json()
    response = alice_api.upload(folder["id"], "notes.md", b"# Notes\n\nThe launch is on 12 June.")
    assert response.status_code == 202
    file = response.json()
    assert file["processing_status"] == "pending" and file["progress"] == 0.0 and file["job_id"]
    run_pending()
    status = alice_api.get(f"/folders/{folder['id']}/files/{file['id']}").json()
    assert status["processing_status"] == "completed" and status["progress"] == 1.0
    assert status["total_chunks"] == status["chunks_embedded"] == 1
    job = alice_api.get(f"/jobs/{file['job_id']}").json()
    assert job["status"] == "completed" and job["done"] == job["total"] == 1
    listing = alice_api.get(f"/folders/{folder['id']}/files").json()
    assert [f["file_name"] for f in listing] == ["notes.md"]


def test_a_bad_upload_reports_its_error(alice_api):
    folder = alice_api.post("/folders/", json={"name": "data"}).json()
    assert alice_api.upload(folder["id"], "photo.png", b"\x89PNG").status_code == 422
    file = alice_api.upload(folder["id"], "broken.json", b"{oops").json()
    run_pending()
    status = alice_api.get(f"/folders/{folder['id']}/files/{file['id']}").json()
    assert status["processing_status"] == "error" and "not valid JSON" in status["error_message"]


def test_attached_folder_is_searchable_by_the_agent(alice, alice_api):
    from agents.services.lifecycle import agent_create

    agent = agent_create(owner=alice, name="reader", model="", include_base_tools=False)
    folder = alice_api.post("/sources/", json={"name": "manuals"}).json()
    alice_api.upload(
        folder["id"],
        "boiler.txt",
        b"Reset the boiler by holding the red button for 10 seconds.",
        prefix="sources",
    )
    run_pending()
    assert alice_api.patch(f"/agents/{agent.id}/folders/attach/{folder['id']}").status_code == 200
    assert alice_api.get(f"/folders/{folder['id']}/agents").json() == [agent.id]
    response = alice_api.get(f"/agents/{agent.id}/files/search?query=reset+boiler")
    assert response.status_code == 200, response.content
    hits = response.json()
    assert hits[0]["file_name"] == "boiler.txt" and "red button" in hits[0]["content"]
    alice_api.patch(f"/agents/{agent.id}/folders/detach/{folder['id']}")
    assert alice_api.get(f"/agents/{agent.id}/files/search?query=reset+boiler").json() == []


def test_folder_names_are_unique(alice_api):
    assert alice_api.post("/folders/", json={"name": "dup"}).status_code == 201
    assert alice_api.post("/folders/", json={"name": "dup"}).status_code == 409


def test_charlie_cannot_see_or_use_alices_folder(alice, alice_api, charlie_api):
    from agents.services.lifecycle import agent_create

    folder = alice_api.post("/folders/", json={"name": "private"}).json()
    assert charlie_api.get(f"/folders/{folder['id']}").status_code == 404
    assert charlie_api.get("/folders/").json() == []
    assert charlie_api.upload(folder["id"], "x.txt", b"sneaky").status_code == 404
    assert charlie_api.delete(f"/folders/{folder['id']}").status_code == 404
    agent = agent_create(owner=alice, name="mine", model="", include_base_tools=False)
    assert charlie_api.patch(f"/agents/{agent.id}/folders/attach/{folder['id']}").status_code == 404
    file = alice_api.upload(folder["id"], "a.txt", b"hello").json()
    assert charlie_api.get(f"/jobs/{file['job_id']}").status_code == 404
    assert alice_api.delete(f"/folders/{folder['id']}").status_code == 200

"""The official letta-client pages through ADE's lists and deletes what it
listed: auto-pagination ends, every item is seen once, and deletes answer
what the client expects."""

from itertools import islice

import pytest

from tests.api_helpers import *  # noqa: F403 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)

GUARD = 50  # more items than this from a 3-item list means pagination never ends


@pytest.fixture
def letta(live_server, secrets):
    from letta_client import Letta

    return Letta(base_url=live_server.url, api_key=secrets["alice"], max_retries=0, timeout=60)


def ids(items) -> list[str]:
    return [item.id for item in islice(items, GUARD)]


def test_the_client_pages_through_folders_and_their_files(letta):
    folders = [letta.folders.create(name=f"folder-{i}") for i in range(3)]
    files = [
        letta.folders.files.upload(folders[0].id, file=(f"note-{i}.txt", b"hello", "text/plain"))
        for i in range(3)
    ]

    assert ids(letta.folders.list(limit=2)) == [f.id for f in folders]
    assert ids(letta.folders.list(limit=2, order="desc")) == [f.id for f in reversed(folders)]
    assert ids(letta.folders.files.list(folders[0].id, limit=2, order="asc")) == [
        f.id for f in files
    ]
    assert ids(letta.folders.files.list(folders[0].id, limit=2)) == [f.id for f in reversed(files)]
    assert ids(letta.folders.files.list(folders[1].id, limit=2)) == []


def test_folder_pages_follow_the_cursor_and_hide_strangers_folders(as_alice, as_charlie):
    made = [as_alice.post("/v1/folders/", {"name": f"f{i}"}).json()["id"] for i in range(3)]
    as_charlie.post("/v1/folders/", {"name": "charlie's"})

    page = as_alice.get(f"/v1/folders/?limit=1&after={made[0]}").json()
    assert [f["id"] for f in page] == [made[1]]
    page = as_alice.get(f"/v1/folders/?before={made[2]}&limit=5").json()
    assert [f["id"] for f in page] == made[:2]
    assert [f["name"] for f in as_charlie.get("/v1/sources/").json()] == ["charlie's"]
    assert as_alice.get("/v1/folders/?limit=0").status_code == 422

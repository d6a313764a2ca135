"""The workspace's Files tab: create or attach a folder, upload several files,
watch each one's processing (pushed live over the agent's WebSocket), see why
a bad file failed, open, close and delete files, detach the folder; and the
agent's prompt shows what the tab shows. File names are escaped everywhere.
Team members may do all of it; strangers get 404s."""

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from memory.files.models import FileAgent, Source, SourceFile
from memory.services.files import file_upload, source_create, source_create_for_agent
from memory.services.jobs import run_pending
from memory.store.rows import load_agent
from tests.test_ui_live import connect, frames_until
from tests.ui_helpers import *  # noqa: F403 - fixtures
from tests.ui_helpers import htmx, make_agent

pytestmark = pytest.mark.django_db(transaction=True)

EVIL = "<img src=x onerror=alert(1)>.md"


@pytest.fixture(autouse=True)
def jobs_by_hand(monkeypatch):
    """Files are processed when the test says so (run_pending), not by a thread."""
    monkeypatch.setenv("ADE_JOBS", "worker")


def url(name, agent, *args):
    return reverse(name, args=[agent.id, *args])


def panel(client, agent):
    return htmx(client, "get", url("panel", agent, "files"))


def upload(client, agent, folder, *files):
    uploads = [SimpleUploadedFile(name, data) for name, data in files]
    return htmx(client, "post", url("files-upload", agent, folder.id), {"files": uploads})


def new_folder(client, agent, name="handbook", **fields):
    return htmx(client, "post", url("files-folder-new", agent), {"name": name, **fields})


def system_prompt(agent) -> str:
    return load_agent(agent.id).messages[0].text


@pytest.fixture
def folder(agent, alice):
    return source_create_for_agent(
        owner=alice, agent=agent, name="handbook", instructions="Quote the section you rely on."
    )


def test_the_workspace_has_a_files_tab_that_starts_empty(agent, as_alice):
    page = as_alice.get(url("agent", agent)).text
    assert ">Files</a>" in page
    tab = panel(as_alice, agent)
    assert tab.status_code == 200 and "No folder is attached yet" in tab.text
    assert 'id="files-new-folder" open' in tab.text
    whole = as_alice.get(url("agent", agent) + "?tab=files").text  # without htmx, the whole page
    assert 'id="files-panel"' in whole and '<a href="?tab=files" class="active"' in whole


def test_a_new_folder_is_attached_with_the_file_tools_and_shown_to_the_agent(agent, as_alice):
    response = new_folder(
        as_alice, agent, description="Company rules", instructions="Quote the section."
    )
    assert (
        response.status_code == 200
        and "handbook" in response.text
        and "Company rules" in response.text
    )
    source = Source.objects.get(name="handbook")
    assert list(source.agents.all()) == [agent] and source.owner.username == "alice"
    assert {"open_files", "grep_files", "semantic_search_files"} <= set(
        agent.tools.values_list("name", flat=True)
    )
    prompt = system_prompt(agent)
    assert '<directory name="handbook">' in prompt and "Quote the section." in prompt
    assert new_folder(as_alice, agent).status_code == 422  # names are unique in a team


def test_uploading_several_files_queues_each_and_refuses_a_bad_type_at_once(
    agent, as_alice, folder
):
    response = upload(
        as_alice,
        agent,
        folder,
        ("leave.md", b"# Leave\n\nEveryone gets 25 days."),
        ("rota.csv", b"name,day\nAna,Mon\nBo,Tue\n"),
        ("photo.png", b"\x89PNG\r\n"),
    )
    assert response.status_code == 200
    assert (
        response.text.count('class="file"') == 2
        and response.text.count('data-status="pending"') == 2
    )
    assert "photo.png: unsupported file type" in response.text
    assert (
        f'id="folder-{folder.id}-notes" class="upload-notes" aria-live="polite" hx-swap-oob="true"'
        in response.text
    )
    # Rows still being processed ask for themselves now and then.
    leave = SourceFile.objects.get(file_name="leave.md")
    assert (
        f'hx-get="{url("files-file", agent, leave.id)}" hx-trigger="load delay:3s"' in response.text
    )

    assert run_pending() == 2
    row = htmx(as_alice, "get", url("files-file", agent, leave.id)).text
    assert 'data-status="completed"' in row and "1 chunk" in row and 'value="100"' in row
    assert "hx-trigger" not in row  # done: no more asking
    assert ">open<" in row  # a new file opens in the agent's view, as in Letta
    assert '<file status="open" name="handbook/leave.md">' in system_prompt(agent)


def test_only_bad_files_is_a_422_and_no_files_is_explained(agent, as_alice, folder):
    response = upload(as_alice, agent, folder, ("empty.txt", b""))
    assert response.status_code == 422 and "empty.txt is empty." in response.text
    nothing = htmx(as_alice, "post", url("files-upload", agent, folder.id))
    assert nothing.status_code == 422 and "Choose one or more files" in nothing.text
    assert not SourceFile.objects.exists()


def test_a_file_that_cannot_be_read_shows_why(agent, as_alice, folder):
    upload(as_alice, agent, folder, ("broken.json", b'{"oops": '))
    run_pending()
    file = SourceFile.objects.get()
    row = htmx(as_alice, "get", url("files-file", agent, file.id)).text
    assert 'data-status="error"' in row and "broken.json is not valid JSON" in row
    assert "<progress" not in row and ">Open<" not in row
    assert "broken.json" not in system_prompt(agent)


def test_file_names_and_errors_are_escaped(agent, as_alice, folder):
    response = upload(
        as_alice, agent, folder, (EVIL, b"harmless text"), ("<b onclick=x>bad.exe", b"x")
    )
    assert "<img src=x" not in response.text and "<b onclick" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;.md" in response.text
    assert "&lt;b onclick=x&gt;bad.exe: unsupported file type" in response.text
    run_pending()
    tab = panel(as_alice, agent).text
    assert "<img src=x" not in tab and "&lt;img src=x onerror=alert(1)&gt;.md" in tab


def test_closing_and_opening_a_file_changes_what_the_agent_sees(agent, as_alice, folder):
    upload(as_alice, agent, folder, ("leave.md", b"# Leave\n\nEveryone gets 25 days."))
    run_pending()
    file = SourceFile.objects.get()
    closed = htmx(as_alice, "post", url("files-file-close", agent, file.id))
    assert closed.status_code == 200 and ">closed<" in closed.text and ">Open<" in closed.text
    assert '<file status="closed" name="handbook/leave.md"/>' in system_prompt(agent)
    opened = htmx(as_alice, "post", url("files-file-open", agent, file.id))
    assert opened.status_code == 200 and ">open<" in opened.text and ">Close<" in opened.text
    prompt = system_prompt(agent)
    assert (
        '<file status="open" name="handbook/leave.md">' in prompt
        and "3: Everyone gets 25 days." in prompt
    )
    section = htmx(as_alice, "get", url("context-section", agent, "directories")).text
    assert "Everyone gets 25 days." in section


def test_a_file_still_being_processed_cannot_be_opened(agent, as_alice, folder):
    upload(as_alice, agent, folder, ("late.md", b"not yet"))
    file = SourceFile.objects.get()
    response = htmx(as_alice, "post", url("files-file-open", agent, file.id))
    assert response.status_code == 422 and "not processed yet" in response.text


def test_deleting_a_file_removes_it_from_the_folder_and_the_prompt(agent, as_alice, folder):
    upload(as_alice, agent, folder, ("leave.md", b"# Leave"))
    run_pending()
    file = SourceFile.objects.get()
    response = htmx(as_alice, "post", url("files-file-delete", agent, file.id))
    assert response.status_code == 200 and response.text == ""
    assert not SourceFile.objects.exists() and "leave.md" not in system_prompt(agent)


def test_detaching_and_attaching_an_existing_folder(agent, alice, as_alice, folder):
    response = htmx(as_alice, "post", url("files-folder-detach", agent, folder.id))
    assert response.status_code == 200 and "No folder is attached yet" in response.text
    assert "<directories>" not in system_prompt(agent)
    assert not agent.tools.filter(name="open_files").exists()
    assert f'<option value="{folder.id}">handbook</option>' in response.text
    attached = htmx(as_alice, "post", url("files-folder-attach", agent), {"folder_id": folder.id})
    assert attached.status_code == 200 and f'id="folder-{folder.id}"' in attached.text
    assert '<directory name="handbook">' in system_prompt(agent)


def test_bob_on_alices_team_can_use_the_tab(agent, as_bob, folder):
    assert panel(as_bob, agent).status_code == 200
    assert upload(as_bob, agent, folder, ("bob.txt", b"Bob was here")).status_code == 200
    run_pending()
    assert SourceFile.objects.get().processing_status == "completed"


def test_charlie_can_neither_see_nor_change_alices_files(
    agent, alice, as_alice, as_charlie, charlie, folder
):
    upload(as_alice, agent, folder, ("leave.md", b"# Leave"))
    run_pending()
    file = SourceFile.objects.get()
    assert panel(as_charlie, agent).status_code == 404
    assert new_folder(as_charlie, agent, name="sneaky").status_code == 404
    assert upload(as_charlie, agent, folder, ("x.txt", b"sneaky")).status_code == 404
    assert htmx(as_charlie, "post", url("files-folder-detach", agent, folder.id)).status_code == 404
    for name in ("files-file-open", "files-file-close", "files-file-delete"):
        assert htmx(as_charlie, "post", url(name, agent, file.id)).status_code == 404
    assert htmx(as_charlie, "get", url("files-file", agent, file.id)).status_code == 404
    # Nor through an agent of his own.
    theirs = make_agent(charlie, name="Theirs")
    assert (
        htmx(
            as_charlie, "post", url("files-folder-attach", theirs), {"folder_id": folder.id}
        ).status_code
        == 404
    )
    assert upload(as_charlie, theirs, folder, ("x.txt", b"sneaky")).status_code == 404
    assert htmx(as_charlie, "post", url("files-file-delete", theirs, file.id)).status_code == 404
    assert "handbook" not in panel(as_charlie, theirs).text
    assert SourceFile.objects.count() == 1 and FileAgent.objects.get().is_open
    assert list(folder.agents.all()) == [agent]


def test_another_teams_folder_cannot_be_attached(agent, as_alice, charlie):
    theirs = source_create(owner=charlie, name="secret")
    response = htmx(as_alice, "post", url("files-folder-attach", agent), {"folder_id": theirs.id})
    assert response.status_code == 404 and not theirs.agents.exists()


# --- live ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_processing_progress_is_pushed_to_the_agents_open_tabs(agent, alice):
    folder = await database_sync_to_async(source_create_for_agent)(
        owner=alice, agent=agent, name="docs"
    )
    communicator, connected, _ = await connect(agent.id, alice, tab="files")
    assert connected
    text = "\n\n".join(f"Paragraph {i}: " + "words " * 120 for i in range(40)).encode()
    await database_sync_to_async(file_upload)(source=folder, file_name=EVIL, data=text)
    await database_sync_to_async(run_pending)()
    html = await frames_until(communicator, 'data-status="completed"')
    assert f'<ul class="files" id="folder-{folder.id}-files" hx-swap-oob="true">' in html
    assert "&lt;img src=x onerror=alert(1)&gt;.md" in html and "<img src=x" not in html
    # The file opened in the agent's view: the context window is redrawn too.
    if 'id="context-panel"' not in html:
        html = await frames_until(communicator, 'id="context-panel"')
    assert 'class="seg seg-directories"' in html
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_re_embedding_progress_is_pushed_to_the_settings_panel(agent, alice, fake_llm):
    from memory.services.reembed import reembed_start
    from memory.store.search import PostgresMemoryBackend

    backend = PostgresMemoryBackend(embed=None, embedding_model="")
    for i in range(3):
        await database_sync_to_async(backend.archival_insert)(agent.id, f"fact {i}", [])
    communicator, _, _ = await connect(agent.id, alice)
    await database_sync_to_async(reembed_start)(
        agent=agent, embedding="openai/text-embedding-3-small"
    )
    await database_sync_to_async(run_pending)()
    html = await frames_until(communicator, "passages re-embedded")
    assert (
        '<div id="reembed-status" class="job-status" aria-live="polite" hx-swap-oob="true">' in html
    )
    assert "3 passages re-embedded" in html
    await communicator.disconnect()

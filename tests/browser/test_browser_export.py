"""In a real browser: the agent list's Export opens a dialog of the parts to
include; unticking archival memory downloads an Agent File without it."""

import json

import pytest

from memory.services.archival import passage_insert
from tests.browser.conftest import login, shot
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_without_archival_memory(live_page, live_url, alice):
    agent = make_agent(alice)
    passage_insert(agent=agent, text="The heron nests by the north pond.", tags=["birds"])
    page = live_page
    login(page, live_url)
    page.click(f"a[data-export='{agent.name}']")
    dialog = page.locator("#export-dialog")
    dialog.wait_for(state="visible")
    boxes = dialog.locator("input[type=checkbox]")
    assert boxes.count() == 4 and all(boxes.nth(i).is_checked() for i in range(4))
    assert agent.name in dialog.locator("h2").inner_text()
    dialog.locator("label:has-text('Archival memory') input").uncheck()
    shot(page, "export-dialog")
    with page.expect_download() as download_info:
        dialog.locator("button[type=submit]").click()
    download = download_info.value
    assert download.suggested_filename == "sam.af"
    document = json.loads(open(download.path()).read())
    assert document["ade"]["archives"] == []
    assert document["metadata"]["parts"] == "folders,messages,tools"
    assert {b["label"] for b in document["blocks"]} == {"human", "persona"}
    dialog.wait_for(state="hidden")

    # Opened again, every part is ticked again.
    page.click(f"a[data-export='{agent.name}']")
    dialog.wait_for(state="visible")
    assert dialog.locator("label:has-text('Archival memory') input").is_checked()
    dialog.locator("[data-export-cancel]").click()
    dialog.wait_for(state="hidden")

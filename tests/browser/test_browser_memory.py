"""In a real browser: edit a core memory block and undo it; insert into
archival memory and search it; the tool editor's preview and test run; a
block edited in one tab shows up, highlighted, in another."""

import pytest

from tests.browser.conftest import login, shot
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)


def open_agent(page, live_url, agent):
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")


def block_card(page, label):
    return page.locator("article.block", has=page.locator(".block-view .label", has_text=label))


def test_edit_a_block_then_undo_it(live_page, live_url, alice):
    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    open_agent(page, live_url, agent)
    card = block_card(page, "human")
    card.locator("button:has-text('Edit')").click()
    card.locator("textarea[name=value]").fill("Name: Alice\nLoves green tea")
    shot(page, "07-block-editing")
    card.locator("button:has-text('Save')").click()
    card = block_card(page, "human")
    page.wait_for_function(
        "document.querySelector('#blocks-list').textContent.includes('Loves green tea')"
    )
    assert "version 2" in card.locator("footer").inner_text()
    # The context window shows the new text at once.
    page.click("#ctx-core_memory summary")
    page.wait_for_selector("#ctx-core_memory .ctx-pre:has-text('Loves green tea')")

    card.locator("button:has-text('History')").click()
    page.wait_for_selector(".history li:has-text('edited in the ADE')")
    shot(page, "08-block-history")
    card.locator("button:has-text('Undo')").click()
    page.wait_for_function(
        "!document.querySelector('#blocks-list').textContent.includes('Loves green tea')"
    )
    assert block_card(page, "human").locator(".block-value").inner_text() == "Name: unknown"


def test_archival_insert_and_search(live_page, live_url, alice):
    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    open_agent(page, live_url, agent)
    page.click("[data-server-tabs] a:has-text('Archival')")
    page.wait_for_selector("#archival-panel")
    for text, tags in (
        ("Alice's cat is called Miso.", "pets"),
        ("The team meets on Tuesdays.", "work"),
    ):
        page.click("#archival-panel details.insert summary")
        page.fill("#archival-panel details.insert textarea[name=text]", text)
        page.fill("#archival-panel details.insert input[name=tags]", tags)
        page.click("#archival-panel button:has-text('Insert')")
        page.wait_for_selector(f'#archival-panel .passage:has-text("{text}")')
    assert page.locator("#archival-panel .passage").count() == 2
    page.fill("#archival-panel input[name=q]", "cat")
    page.click("#archival-panel button:has-text('Search')")
    page.wait_for_selector("#archival-panel .passage:has-text('score')")
    best = page.locator("#archival-panel .passage").first.inner_text()
    assert "Miso" in best and "pets" in best
    shot(page, "09-archival-search")
    page.locator("#archival-panel .passage").first.locator("button:has-text('Delete')").click()
    page.wait_for_function(
        "!document.querySelector('#archival-panel').textContent.includes('Miso')"
    )


def test_tool_editor_previews_and_test_runs_a_tool(live_page, live_url, alice):
    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    open_agent(page, live_url, agent)
    page.click("[data-local-tabs] button:has-text('Tools')")
    page.click("#tool-editor summary")  # opening the editor widens the left pane
    left = page.locator(".pane-left").bounding_box()["width"]
    assert left >= 480, left
    page.click("#tool-editor button:has-text('Preview schema')")
    page.wait_for_selector("#tool-schema pre:has-text('roll_dice')")
    page.fill("#tool-editor textarea[name=arguments]", '{"sides": 1}')
    page.click("#tool-editor button:has-text('Run test')")
    page.wait_for_selector("#tool-run .tool-return.ok:has-text('You rolled a 1.')")
    page.fill("#tool-editor textarea[name=arguments]", '{"sides": "many"}')
    page.click("#tool-editor button:has-text('Run test')")
    page.wait_for_selector("#tool-run .tool-return.failed")
    shot(page, "10-tool-editor")
    page.click("#tool-editor button:has-text('Save & attach')")
    page.wait_for_selector("#tools-panel .tool-list code:has-text('roll_dice')")


def test_a_block_edited_in_another_tab_appears_highlighted(
    live_page, live_url, alice, bob, browser
):
    agent = make_agent(alice)
    page = live_page
    login(page, live_url)
    open_agent(page, live_url, agent)
    other_context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = other_context.new_page()
    login(other, live_url, "bob", "bob-pass-123")
    open_agent(other, live_url, agent)
    card = block_card(other, "persona")
    card.locator("button:has-text('Edit')").click()
    card.locator("textarea[name=value]").fill("I am Sam, and Bob just taught me to rhyme.")
    card.locator("button:has-text('Save')").click()
    seen = block_card(page, "persona").locator(".block-view.changed-user")
    seen.wait_for()
    assert (
        "Bob just taught me to rhyme" in seen.inner_text()
        and "edited by a person" in seen.inner_text()
    )
    shot(page, "11-live-edit-from-another-tab")
    other_context.close()

"""In a real browser: create a folder in the Files tab, upload a long
multi-page PDF with a broken file and a wrong type beside it, and watch the
PDF's progress arrive over the WebSocket until it is completed, the broken
file show why it failed and the wrong type be refused; then close the file
and see the agent's context window follow."""

import pytest

from tests.browser.conftest import login, shot
from tests.ui_helpers import make_agent

pytestmark = pytest.mark.django_db(transaction=True)

EMBEDDING = "openai/text-embedding-3-small"
BROKEN = "<img src=x onerror=alert(1)>.json"
WORDS = (
    "leave travel expenses laptop holiday manager approval receipt invoice policy office remote "
    "training security badge parking"
).split()


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF with one page per list of lines (offsets computed, so pypdf reads it cleanly)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for lines in pages:
        text = " T* ".join(f"({line})'" if i else f"({line}) Tj" for i, line in enumerate(lines))
        stream = f"BT /F1 9 Tf 11 TL 40 800 Td {text} ET".encode()
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
        content = len(objects)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents {content} 0 R "
            f"/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def handbook(page_count: int = 60, lines: int = 60) -> bytes:
    """A long handbook: enough text for several batches of chunks."""
    pages = []
    for p in range(page_count):
        pages.append(
            [
                f"Section {p + 1}.{n + 1}: "
                + " ".join(WORDS[(p + n + k) % len(WORDS)] for k in range(12))
                for n in range(lines)
            ]
        )
    return make_pdf(pages)


# Everything the Files tab shows of the PDF's row over time, and the
# WebSocket swaps that redrew its folder (so polling alone cannot pass).
WATCH = """() => {
  window.seen = [];
  window.pushed = 0;
  const note = () => {
    const row = [...document.querySelectorAll('#files-panel li.file')]
      .find(li => li.querySelector('.file-name').textContent === 'handbook.pdf');
    if (!row) return;
    const label = row.querySelector('.progress-label');
    const state = row.dataset.status + ' ' + (label ? label.textContent : '');
    if (window.seen[window.seen.length - 1] !== state) window.seen.push(state);
  };
  new MutationObserver(note).observe(document.getElementById('right-tab'), {subtree: true, childList: true});
  document.addEventListener('htmx:oobAfterSwap', (evt) => {
    if (evt.detail.target && evt.detail.target.id.endsWith('-files')) window.pushed += 1;
  });
}"""


def test_upload_a_long_pdf_and_watch_it_processed_live(live_page, live_url, alice):
    agent = make_agent(alice, embedding=EMBEDDING)
    page = live_page
    login(page, live_url)
    page.goto(f"{live_url}/agents/{agent.id}/")
    page.wait_for_selector("#live-state.live")
    page.click("[data-server-tabs] a:has-text('Files')")
    page.wait_for_selector("#files-panel:has-text('No folder is attached yet')")
    page.fill("#files-new-folder input[name=name]", "handbook")
    page.fill("#files-new-folder textarea[name=instructions]", "Quote the section you rely on.")
    page.click("#files-new-folder button:has-text('Create and attach')")
    page.wait_for_selector("#files-panel .folder .folder-name:has-text('handbook')")
    assert page.locator("#files-panel .folder .badge", has_text=EMBEDDING).count() == 1

    page.evaluate(WATCH)
    page.set_input_files(
        "#files-panel .folder input[type=file]",
        files=[
            {"name": "handbook.pdf", "mimeType": "application/pdf", "buffer": handbook()},
            {"name": BROKEN, "mimeType": "application/json", "buffer": b'{"policy": '},
            {"name": "virus.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"},
        ],
    )
    page.click("#files-panel .folder button:has-text('Upload')")
    page.wait_for_selector(
        "#files-panel .upload-notes:has-text('virus.exe: unsupported file type')"
    )
    try:  # a picture of the progress bar on its way, when the machine is slow enough to catch it
        page.wait_for_selector("#files-panel li.file[data-status=embedding]", timeout=5_000)
        shot(page, "14-files-upload-progress")
    except Exception:
        pass
    page.wait_for_selector("#files-panel li.file[data-status=completed]", timeout=60_000)
    page.wait_for_selector("#files-panel li.file[data-status=error]")

    seen = page.evaluate("window.seen")
    assert seen[0].split()[0] != "completed", seen  # it was watched being processed...
    assert seen[-1].startswith("completed") and "chunks" in seen[-1], seen
    assert page.evaluate("window.pushed") > 0  # ...with progress pushed over the WebSocket
    pdf = page.locator("#files-panel li.file[data-status=completed]")
    assert pdf.locator(".file-name").inner_text() == "handbook.pdf"
    assert pdf.locator("progress").get_attribute("value") == "100"
    chunks = int(pdf.locator(".progress-label").inner_text().split()[0])
    assert chunks > 64  # more than one batch of embeddings
    broken = page.locator("#files-panel li.file[data-status=error]")
    assert broken.locator(".file-name").inner_text() == BROKEN  # shown as text, never as markup
    assert "is not valid JSON" in broken.locator(".file-error").inner_text()
    assert not page.dialogs

    # The PDF opened in the agent's view: the context window has a Files section.
    page.wait_for_selector("#ctx-directories")
    shot(page, "15-files-completed")
    pdf.locator("button:has-text('Close')").click()
    page.wait_for_selector("#files-panel li.file[data-status=completed] button:has-text('Open')")
    page.click("#ctx-directories summary")
    page.wait_for_selector(
        '#ctx-directories .ctx-pre:has-text(\'<file status="closed" name="handbook/handbook.pdf"/>\')'
    )
    assert not page.dialogs

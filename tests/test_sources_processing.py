"""Uploading a file: parsed by type, chunked, embedded in batches in the
background with progress; a bad file gets a clear error and leaves nothing."""

from __future__ import annotations

import json

import pytest

from memory.files import parsing
from memory.files.chunking import chunk_text
from memory.files.models import FileAgent, FileContent, Job, SourceFile, SourcePassage
from memory.services import file_processing as processing
from memory.services.files import file_upload, source_attach, source_create
from memory.services.jobs import run_pending
from tests.engine_helpers import fake_llm  # noqa: F401


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF showing `text` (offsets computed, so pypdf reads it cleanly)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


@pytest.fixture
def folder(alice):
    return source_create(owner=alice, name="handbook")


def upload(folder, name, data):
    file, job = file_upload(source=folder, file_name=name, data=data)
    run_pending()
    file.refresh_from_db()
    job.refresh_from_db()
    return file, job


@pytest.mark.parametrize(
    "name,data,expected",
    [
        ("notes.txt", b"Plain words here.", "Plain words here."),
        ("readme.md", b"# Title\n\nSome *markdown*.", "# Title"),
        (
            "page.html",
            b"<html><head><style>x{}</style></head><body><h1>Hi</h1><p>Para &amp; more</p>"
            b"<script>nope()</script></body></html>",
            "# Hi\n\nPara & more",
        ),
        ("data.json", json.dumps({"b": [1, 2], "a": "x"}).encode(), '"a": "x"'),
        ("people.csv", b"name,city\nAda,London\nAlan,Wilmslow\n", "name: Ada; city: London"),
        ("doc.pdf", make_pdf("Hello from a PDF"), "Hello from a PDF"),
    ],
)
def test_each_supported_type_is_parsed_to_text(name, data, expected):
    kind = parsing.file_type_for(name)
    text = parsing.parse(data, name, kind)
    assert expected in text
    assert "nope()" not in text and "x{}" not in text


def test_unsupported_and_broken_files_say_what_is_wrong():
    with pytest.raises(parsing.ParseError, match="unsupported file type"):
        parsing.file_type_for("image.png")
    with pytest.raises(parsing.ParseError, match="not valid JSON"):
        parsing.parse(b"{nope", "x.json", "application/json")
    with pytest.raises(parsing.ParseError, match="not a readable PDF"):
        parsing.parse(b"%PDF-1.4 garbage", "x.pdf", "application/pdf")
    with pytest.raises(parsing.ParseError, match="binary"):
        parsing.parse(b"\x00\x01\x02", "x.txt", "text/plain")


def test_chunks_stay_near_the_size_and_overlap():
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(20))
    chunks = chunk_text(text, size=200)
    assert len(chunks) > 5
    assert all(len(c.split()) <= 200 for c in chunks)
    assert (
        chunks[1].split()[0] in chunks[0].split()
    )  # the next chunk starts inside the previous one
    assert "Paragraph 19." in chunks[-1]
    assert chunk_text("short") == ["short"]


def test_an_upload_is_processed_in_the_background_with_progress(folder, monkeypatch):
    monkeypatch.setattr(processing, "EMBED_BATCH", 4)
    seen = []
    monkeypatch.setattr(
        "memory.services.jobs.job_publish",
        lambda job: seen.append((job.status, job.done, job.total)),
    )
    text = "\n\n".join(f"Section {i}: " + "lorem ipsum " * 100 for i in range(10))
    file, job = file_upload(source=folder, file_name="big.txt", data=text.encode())
    assert file.processing_status == "pending" and job.status == "queued"
    assert run_pending() == 1
    file.refresh_from_db()
    job.refresh_from_db()
    assert file.processing_status == "completed" and file.raw is None
    assert job.status == "completed" and job.done == job.total == file.total_chunks > 4
    assert (
        SourcePassage.objects.filter(file=file).count() == file.total_chunks == file.chunks_embedded
    )
    assert FileContent.objects.get(file=file).text.startswith("Section 0")
    # Progress was published batch by batch while it ran.
    dones = [d for status, d, total in seen if status == "running" and total]
    assert dones == sorted(dones) and len(dones) >= 3


def test_a_bad_file_fails_clearly_and_leaves_nothing(folder):
    file, job = upload(folder, "broken.json", b'{"a": ')
    assert file.processing_status == "error" and "not valid JSON" in file.error_message
    assert job.status == "failed" and "not valid JSON" in job.error
    assert not SourcePassage.objects.filter(file=file).exists()
    assert not FileContent.objects.filter(file=file).exists()


def test_a_failure_half_way_through_embedding_removes_the_chunks_written(
    alice, fake_llm, monkeypatch
):
    folder = source_create(owner=alice, name="embedded", embedding="openai/text-embedding-3-small")
    monkeypatch.setattr(processing, "EMBED_BATCH", 2)
    calls = {"n": 0}
    real = processing.embedder_for

    def flaky(handle):
        embed = real(handle)

        def run(texts):
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("embedding service went away")
            return embed(texts)

        return run

    monkeypatch.setattr(processing, "embedder_for", flaky)
    text = "\n\n".join(f"Part {i}. " + "text " * 250 for i in range(8))
    file, job = upload(folder, "long.txt", text.encode())
    assert file.processing_status == "error" and "embedding service went away" in file.error_message
    assert not SourcePassage.objects.filter(file=file).exists()


def test_embedded_chunks_keep_their_real_size(alice, fake_llm):
    folder = source_create(owner=alice, name="vectors", embedding="openai/text-embedding-3-small")
    file, _ = upload(folder, "a.txt", b"Some facts about otters.")
    passage = SourcePassage.objects.get(file=file)
    assert (
        passage.embedding_dim == 1536 and passage.embedding_model == "openai/text-embedding-3-small"
    )


def test_a_duplicate_name_gets_a_suffix(folder):
    first, _ = upload(folder, "notes.txt", b"one")
    second, _ = upload(folder, "notes.txt", b"two")
    assert (first.file_name, second.file_name) == ("notes.txt", "notes_(1).txt")


def test_a_new_file_opens_in_every_attached_agent(alice, folder):
    from agents.services.lifecycle import agent_create

    agent = agent_create(owner=alice, name="reader", model="", include_base_tools=False)
    source_attach(source=folder, agent=agent)
    file, _ = upload(folder, "fresh.md", b"# Fresh\nline two")
    link = FileAgent.objects.get(agent=agent, file=file)
    assert link.is_open and "1: # Fresh" in link.visible_content
    assert {"open_files", "grep_files", "semantic_search_files"} <= set(
        agent.tools.values_list("name", flat=True)
    )
    assert Job.objects.filter(file=file, status="completed").exists()
    assert SourceFile.objects.get(pk=file.pk).processing_status == "completed"


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_a_queued_job_runs_without_a_worker(alice, monkeypatch):
    import time

    from memory.services import jobs

    monkeypatch.setenv("ADE_JOBS", "thread")
    folder = source_create(owner=alice, name="threaded")
    file, job = file_upload(
        source=folder, file_name="t.txt", data=b"threads work"
    )  # commits: kick()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert job.status == "completed"
    assert jobs._thread is None or jobs._thread.is_alive()

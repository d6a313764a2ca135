"""Uploaded bytes -> text. One function per kind of file; anything we cannot
read raises ParseError with a message for the person who uploaded it."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

MAX_FILE_BYTES = 50 * 1024 * 1024
KINDS = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".log": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".csv": "text/csv",
}


class ParseError(Exception):
    pass


def file_type_for(name: str, content_type: str = "") -> str:
    lower = name.lower()
    for suffix, kind in KINDS.items():
        if lower.endswith(suffix):
            return kind
    has_extension = "." in lower.rsplit("/", 1)[-1]
    if not has_extension and content_type in KINDS.values():
        return content_type
    supported = ", ".join(
        sorted({s.lstrip(".") for s in ("txt", "md", "pdf", "html", "json", "csv")})
    )
    raise ParseError(f"{name}: unsupported file type; upload one of: {supported}.")


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise ParseError(f"{name} looks like a binary file, not text.")
    for encoding in (
        ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",)
    ):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "head"}
    BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "section",
        "article",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "blockquote",
        "table",
        "ul",
        "ol",
        "header",
        "footer",
        "title",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6") and not self.skipping:
            self.parts.append("#" * int(tag[1]) + " ")
        if tag == "li" and not self.skipping:
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def parse_html(data: bytes, name: str) -> str:
    parser = _HTMLText()
    parser.feed(_decode(data, name))
    parser.close()
    return _tidy("".join(parser.parts))


def parse_pdf(data: bytes, name: str) -> str:
    # Imported here: pypdf is loaded only when someone uploads a PDF.
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ParseError(f"{name} is encrypted; upload an unprotected copy.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise ParseError(f"{name} is not a readable PDF ({exc}).") from exc
    text = "\n\n".join(f"[page {i}]\n{p.strip()}" for i, p in enumerate(pages, 1) if p.strip())
    if not text:
        raise ParseError(f"{name} has no extractable text (a scanned PDF needs OCR first).")
    return text


def parse_json(data: bytes, name: str) -> str:
    try:
        value = json.loads(_decode(data, name))
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from exc
    return json.dumps(value, indent=2, ensure_ascii=False)


def parse_csv(data: bytes, name: str) -> str:
    text = _decode(data, name)
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ParseError(f"{name} is not valid CSV: {exc}.") from exc
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(header)
    # One line per record, "column: value", so every chunk is self-explaining.
    return "\n".join(
        "; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v) for row in body
    )


def parse(data: bytes, name: str, file_type: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise ParseError(f"{name} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    if file_type == "application/pdf":
        text = parse_pdf(data, name)
    elif file_type == "text/html":
        text = parse_html(data, name)
    elif file_type == "application/json":
        text = parse_json(data, name)
    elif file_type == "text/csv":
        text = parse_csv(data, name)
    else:
        text = _decode(data, name).replace("\r\n", "\n")
    text = text.replace("\x00", "")
    if not text.strip():
        raise ParseError(f"{name} is empty.")
    return text

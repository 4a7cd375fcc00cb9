"""Render a :class:`~mst.report.document.Document` as HTML and as PDF (Typst), from the same
content through two Jinja2 templates (``mst/report/templates``)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from mst.errors import ValidationError
from mst.report.document import Document, Fig
from mst.report.figures import save_svg, svg


def typst_string(value: Any) -> str:
    """A Typst string literal: every text is passed as a string, never as markup, so no
    character of a label or a value can be read as Typst syntax."""
    s = str(value)
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "")
    s = "".join(c if c >= " " or c == "\\" else f"\\u{{{ord(c):x}}}" for c in s)
    return f'"{s}"'


@lru_cache(maxsize=2)
def _env(kind: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mst.report", "templates"),
        autoescape=kind == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["ts"] = typst_string
    return env


def render_html(doc: Document, figures: dict[str, Figure], data_json: str) -> str:
    """The self-contained HTML page (figures as inline SVG with text kept as text)."""
    for sec in doc.sections:
        for b in sec.blocks:
            if isinstance(b, Fig) and b.id in figures:
                b.svg = svg(figures[b.id])
    return _env("html").get_template("report.html.j2").render(
        doc=doc, data=data_json.replace("</", "<\\/"))


def render_typst(doc: Document) -> str:
    """The Typst source of the PDF (figures referenced by their ``file``)."""
    return _env("typst").get_template("report.typ.j2").render(doc=doc)


def write_pdf(doc: Document, figures: dict[str, Figure], path: str | Path) -> None:
    """Typeset the document as an A4 PDF with Typst: real tables, captions, page numbers,
    figures as SVG whose text stays selectable.

    Raises
    ------
    ValidationError
        Typst could not typeset the document (the message names the reason).
    """
    import typst

    with tempfile.TemporaryDirectory(prefix="mst-report-") as tmp:
        d = Path(tmp)
        for sec in doc.sections:
            for b in sec.blocks:
                if isinstance(b, Fig) and b.id in figures:
                    b.file = f"{b.id}.svg"
                    save_svg(figures[b.id], d / b.file)
        src = d / "report.typ"
        src.write_text(render_typst(doc), encoding="utf-8")
        try:
            pdf = typst.compile(str(src), root=str(d))
        except Exception as exc:  # typst raises its own error type with a readable message
            raise ValidationError("pdf", str(path), f"could not be typeset ({exc})") from exc
        Path(path).write_bytes(pdf)  # type: ignore[arg-type]

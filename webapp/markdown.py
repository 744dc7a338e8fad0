"""Just enough Markdown for the rule docs: headings, fenced code, lists, paragraphs, `code`.

Everything is HTML-escaped first: a rule doc can never inject markup into the page.
"""

from __future__ import annotations

import re
from html import escape

INLINE_CODE = re.compile(r"`([^`]+)`")
BOLD = re.compile(r"\*\*([^*]+)\*\*")


def to_html(markdown: str) -> str:
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None
    language = ""

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in markdown.splitlines():
        if code is not None:
            if line.strip().startswith("```"):
                css = f' class="language-{escape(language)}"' if language else ""
                blocks.append(f"<pre><code{css}>{escape(chr(10).join(code))}</code></pre>")
                code = None
            else:
                code.append(line)
        elif line.strip().startswith("```"):
            flush()
            code, language = [], line.strip()[3:].strip()
        elif heading := re.match(r"^(#{1,6})\s+(.*)$", line):
            flush()
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := re.match(r"^\s*[-*]\s+(.*)$", line):
            if paragraph:
                flush()
            items.append(item.group(1))
        elif not line.strip():
            flush()
        elif items:
            items[-1] += " " + line.strip()
        else:
            paragraph.append(line.strip())
    if code is not None:  # an unclosed fence still shows its code
        blocks.append(f"<pre><code>{escape(chr(10).join(code))}</code></pre>")
    flush()
    return "\n".join(blocks)


def _inline(text: str) -> str:
    parts = INLINE_CODE.split(text)  # odd indexes are code spans
    return "".join(
        f"<code>{escape(part)}</code>" if i % 2 else BOLD.sub(r"<strong>\1</strong>", escape(part))
        for i, part in enumerate(parts)
    )

"""Building study-note files for the vault tests."""

from __future__ import annotations


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


def note(*frontmatter: str, body: str = "# body\n") -> bytes:
    """A Markdown file with these frontmatter lines."""
    return ("---\n" + "".join(line + "\n" for line in frontmatter) + "---\n" + body).encode()

"""Keep the message catalogues (reminder/locale) in step with the code, with Babel.

    python scripts/catalogue.py extract   # reminder/locale/reminder.pot from reminder/ and its templates
    python scripts/catalogue.py update    # merge the template into ko and en (new ids appear untranslated)
    python scripts/catalogue.py compile   # the .mo files reminder.i18n reads (committed)

The tests use the same functions: a message the code uses but a catalogue lacks fails the suite.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reminder"
LOCALE = PACKAGE / "locale"
DOMAIN = "reminder"
LANGUAGES = ("ko", "en")
# reminder.i18n's markers besides gettext's own names (_, gettext, ngettext, pgettext, ...), and the errors
# whose first argument is a message id (reminder.i18n.LocalizedError's subclasses).
ERRORS = (
    "Invalid",
    "ConfigError",
    "StoreError",
    "NoteError",
    "VaultError",
    "UserError",
    "LocalizedError",
    "_InFile",
    "ServerError",
)
# The vault's and ntfy's errors, and reminder.i18n.Phrase (a text the core reports): their first argument is one too.
MORE = ("WriteRefused", "Phrase", "TransientError", "PermanentError", "AuthError")
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "NP_": (1, 2), "NC_": ((1, "c"), 2), **dict.fromkeys((*ERRORS, *MORE))}
METHODS = [("locale/**", "ignore"), ("**.py", "python"), ("templates/**.html", "jinja2")]
OPTIONS = {"templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}


def extract() -> Catalog:
    """Every message the code and the templates use."""
    catalog = Catalog(project="reminder", domain=DOMAIN, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        PACKAGE, METHODS, OPTIONS, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
    ):
        catalog.add(message, None, [(f"reminder/{filename}", lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as fp:
        return read_po(fp, locale=language, domain=DOMAIN)


def compiled(language: str) -> bytes:
    """The .mo Babel compiles from the language's .po (what reminder.i18n must ship)."""
    out = io.BytesIO()
    write_mo(out, read(language), use_fuzzy=False)
    return out.getvalue()


def update() -> None:
    template = extract()
    for language in LANGUAGES:
        path = po_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(language) if path.exists() else Catalog(locale=language, domain=DOMAIN, project="reminder")
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # a fuzzy header would leave Plural-Forms out of the .mo
        write(catalog, path)


def write(catalog: Catalog, path: Path) -> None:
    # No line numbers: a moved call must not rewrite every catalogue.
    with path.open("wb") as fp:
        write_po(fp, catalog, width=120, include_lineno=False)


def compile_all() -> None:
    for language in LANGUAGES:
        po_path(language).with_suffix(".mo").write_bytes(compiled(language))


def main(argv: list[str]) -> int:
    commands = {"extract": None, "update": update, "compile": compile_all}
    if len(argv) != 1 or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "extract":
        write(extract(), LOCALE / f"{DOMAIN}.pot")
    else:
        commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

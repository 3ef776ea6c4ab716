"""The message catalogues: one gettext catalogue per language (reminder/locale/<lang>/LC_MESSAGES/reminder.mo),
the English text as the message id, as Python programs usually do it.

The ``.po`` files are the sources a translator edits; the ``.mo`` files beside them are committed, compiled by
Babel (``python scripts/catalogue.py compile``; a test fails when a ``.mo`` is not exactly what Babel compiles from
its ``.po``), so neither a wheel nor an editable install needs a build step. The standard library's ``gettext``
reads them: Babel is only a tool for the catalogue's maintainer and the tests, not a runtime dependency.

Two audiences, two choices of language:
- notifications and pages follow ``REMINDER_LANGUAGE`` (the ``language`` setting, ``ko`` by default): the phone
  is the learner's, whatever machine the service runs on;
- the command line follows the locale as command-line programs do (``LC_ALL``, then ``LC_MESSAGES``, then
  ``LANG``: ``ko_KR.UTF-8`` gives Korean, anything else English), unless ``REMINDER_LANGUAGE`` is set
  explicitly (environment or config file). See :func:`cli_language`.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache

DOMAIN = "reminder"
LANGUAGES = ("ko", "en")
SOURCE_LANGUAGE = "en"  # the message ids are English
LOCALE_DIR = os.path.join(os.path.dirname(__file__), "locale")


@dataclass(frozen=True)
class Message:
    """A text marked for the catalogue and translated later, in the reader's language (gettext_noop)."""

    msgid: str
    plural: str | None = None
    context: str | None = None


# The markers the extractor knows (scripts/catalogue.py KEYWORDS): N_ a text, NP_ a plural, NC_ a text whose
# English is the same as another's but whose translation is not.
def N_(message: str) -> Message:
    return Message(message)


def NP_(singular: str, plural: str) -> Message:
    return Message(singular, plural)


def NC_(context: str, message: str) -> Message:
    return Message(message, context=context)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language``; English falls back to the message ids themselves."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r} (ko or en)")
    # The catalogues are plain files inside the package (wheel or editable install): found beside this module,
    # since importlib.resources costs every command a dozen imports (zipfile, tempfile, ...) before it starts.
    path = os.path.join(LOCALE_DIR, language, "LC_MESSAGES", f"{DOMAIN}.mo")
    try:
        with open(path, "rb") as fp:
            return gettext.GNUTranslations(fp)
    except FileNotFoundError:
        if language == SOURCE_LANGUAGE:
            return gettext.NullTranslations()
        raise


def locale_language(environ: Mapping[str, str]) -> str:
    """The language the locale asks for, as C programs read it: the first of LC_ALL, LC_MESSAGES, LANG that is
    set and not empty decides (``ko``, ``ko_KR``, ``ko_KR.UTF-8`` give Korean; anything else, C included,
    English)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            code = value.split(".", 1)[0].split("@", 1)[0].split("_", 1)[0].lower()
            return "ko" if code == "ko" else "en"
    return "en"


def cli_language(environ: Mapping[str, str], explicit: str | None = None) -> str:
    """The command line's language: ``explicit`` (REMINDER_LANGUAGE from the environment or the config file,
    when the learner set it) wins over the locale."""
    if explicit:
        language = explicit.strip().lower()
        if language in LANGUAGES:
            return language
    return locale_language(environ)


class Catalogue:
    """The texts of one language: ``_``, ``ngettext``, ``pgettext`` as gettext has them."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.translations = translations(language)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    def text(self, message: Message, n: int | None = None) -> str:
        """A marked text in this language; a plural one needs ``n``."""
        if message.plural is not None:
            if n is None:
                raise ValueError(f"{message.msgid!r} is a plural text: it needs a count")
            return self.translations.ngettext(message.msgid, message.plural, n)
        if message.context is not None:
            return self.translations.pgettext(message.context, message.msgid)
        return self.translations.gettext(message.msgid)


@cache
def catalogue(language: str) -> Catalogue:
    return Catalogue(language)


# The abbreviations people read in a date; the translators turn them into 월, 화, ... and month numbers.
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
MONTHS = (
    N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
    N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"),
)  # fmt: skip


def format_day(day: date, language: str) -> str:
    """A day as a person reads it: ``12월 1일 (화)`` / ``Tue, Dec 1``. Machines get ``day.isoformat()``.

    The pattern itself is in the catalogue (Korean puts the month first and the weekday last, in brackets); it
    may use ``{weekday}``, ``{month}`` (the name), ``{month_number}``, ``{day}`` and ``{year}``."""
    cat = catalogue(language)
    return cat.gettext("{weekday}, {month} {day}").format(
        weekday=cat.text(WEEKDAYS[day.weekday()]),
        month=cat.text(MONTHS[day.month - 1]),
        month_number=day.month,
        day=day.day,
        year=day.year,
    )


class LocalizedError(Exception):
    """An error whose message is a catalogue message id and its values, translated where it is shown.

    ``str(exc)`` is the English text (logs, tracebacks, tests that read it keep working); the command line shows
    ``translate_error(exc, language)``. A value may itself be an exception (the reason a setting was refused):
    it is translated too. The message id is what the raise site writes, ``{name}`` placeholders and all, so the
    catalogue's extractor finds it (scripts/catalogue.py lists the error classes among its keywords)."""

    def __init__(self, message: str | Message, **values: object) -> None:
        if isinstance(message, Message):  # marked with N_ where the text is not the call's first argument
            message = message.msgid
        self.message = message
        self.values = values
        super().__init__(render(catalogue(SOURCE_LANGUAGE), message, values))


def render(cat: Catalogue, message: str, values: dict[str, object]) -> str:
    text = cat.gettext(message)
    if not values:  # a text made elsewhere (a driver's reason): shown as it is, braces and all
        return text
    shown = {k: _shown(v, cat) for k, v in values.items()}
    return text.format(**shown)


def _shown(value: object, cat: Catalogue) -> object:
    """A value inside a message: an exception (a reason), a phrase or a marked text (a field's name) is
    translated too."""
    if isinstance(value, BaseException):
        return translate_error(value, cat.language)
    if isinstance(value, Phrase):
        return value.translated(cat.language)
    if isinstance(value, Message):
        return cat.text(value)
    return value


class Phrase(str):
    """A text the core reports (a sync's line about one file, a reason) with its values, translated where it is
    shown. It *is* its English text, so logs, ``--json`` and code that compares or joins it keep working; the
    command line shows ``shown(text, language)``. ``message`` is a message id (a plural one, marked with NP_,
    takes its form from the value ``n``); a value may itself be a phrase or an exception, translated too."""

    message: Message
    values: dict[str, object]

    def __new__(cls, message: str | Message, /, **values: object) -> Phrase:
        marked = message if isinstance(message, Message) else Message(message)
        self = super().__new__(cls, _phrase_text(catalogue(SOURCE_LANGUAGE), marked, values))
        self.message, self.values = marked, values
        return self

    def translated(self, language: str) -> str:
        return _phrase_text(catalogue(language), self.message, self.values)

    def __reduce__(self) -> tuple[object, ...]:
        # A str subclass pickles as its text alone; the sync may hand reports across processes.
        return (_phrase, (self.message, self.values))


def _phrase(message: Message, values: dict[str, object]) -> Phrase:
    return Phrase(message, **values)


def _phrase_text(cat: Catalogue, message: Message, values: dict[str, object]) -> str:
    n = values.get("n")
    text = cat.text(message, n if isinstance(n, int) else None)
    return text.format(**{k: _shown(v, cat) for k, v in values.items()}) if values else text


def shown(text: str, language: str) -> str:
    """What the reader sees of a text the core made: a phrase in ``language``, any other text as it is."""
    return text.translated(language) if isinstance(text, Phrase) else text


def translate_error(exc: BaseException, language: str) -> str:
    """What the learner reads for ``exc``: its catalogue text in ``language`` if it has one, else its own text."""
    if isinstance(exc, LocalizedError):
        return render(catalogue(language), exc.message, exc.values)
    return str(exc)


class Invalid(LocalizedError, ValueError):
    """A value a parser refuses (a setting, an option), with the reason in the catalogue."""

"""Which folders of a vault hold templates (their files are not study notes), as Obsidian itself says.

In order: the folder given with `vault add --templates`; else the core Templates plugin's folder
(``.obsidian/templates.json``, key ``folder``) and Templater's (``.obsidian/plugins/templater-obsidian/data.json``,
key ``templates_folder``); else every folder whose name contains "template" or "템플릿" in any case
(``05 - Template``, ``Templates``, ``템플릿``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from reminder.i18n import N_, Message, Phrase

_SETTINGS = (
    (".obsidian/templates.json", "folder", N_("Obsidian's Templates plugin setting")),
    (".obsidian/plugins/templater-obsidian/data.json", "templates_folder", N_("Templater's setting")),
)
_WORDS = ("template", "템플릿")


@dataclass(frozen=True)
class TemplateFolders:
    folders: tuple[str, ...]  # vault-relative, "/"-separated, no trailing slash
    why: tuple[Message, ...]  # where they come from, for the sync's one line

    def holds(self, rel: str) -> bool:
        return any(rel.startswith(folder + "/") for folder in self.folders)

    def describe(self) -> str:
        if not self.folders:
            return ""
        shown = ", ".join(f"{folder}/" for folder in self.folders)
        if len(self.why) == 2:
            why = Phrase("{first} and {second}", first=self.why[0], second=self.why[1])
        else:
            why = Phrase(self.why[0])
        return Phrase("templates folder {folders} ({why})", folders=shown, why=why)


def _clean(folder: str) -> str:
    return "/".join(part for part in folder.replace("\\", "/").split("/") if part and part != ".")


def named_like_templates(name: str) -> bool:
    folded = name.casefold()
    return any(word in folded for word in _WORDS)


def template_folders(root: str, override: str | None, folders: set[str]) -> TemplateFolders:
    """The vault's template folders. ``folders`` are the vault's folders (relative), for the naming rule."""
    if override:
        return TemplateFolders((_clean(override),), (N_("set with vault add --templates"),))
    found: list[str] = []
    why: list[Message] = []
    for rel, key, label in _SETTINGS:
        try:
            with open(os.path.join(root, rel), encoding="utf-8") as fh:
                value = json.load(fh).get(key)
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(value, str) and _clean(value) and _clean(value) not in found:
            found.append(_clean(value))
            why.append(label)
    if found:
        return TemplateFolders(tuple(found), tuple(why))
    named = sorted(f for f in folders if named_like_templates(f.rsplit("/", 1)[-1]))
    # A templates folder inside another one adds nothing.
    named = [f for f in named if not any(f.startswith(other + "/") for other in named)]
    return TemplateFolders(tuple(named), (N_("its name says so"),))

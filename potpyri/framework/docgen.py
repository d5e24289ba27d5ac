"""Reference documentation generated from the code: step configs and documented header keywords.

The step reference in the docs is built from the step registry so that each config field (name,
type, default, meaning) is written once, in the step's ``Config`` dataclass, where the meaning is
the ``#:`` comment on the field (trailing it, or on the lines just above it) or
``field(metadata={"doc": ...})``.
The header-keyword reference and its test both read ``docs/keywords.yaml``.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import re
import textwrap
import types
import typing
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FieldDoc",
    "KeywordDoc",
    "config_fields",
    "documented",
    "load_keywords",
    "keywords_rst",
    "run_config_rst",
    "steps_rst",
]


@dataclass
class FieldDoc:
    """One config field as the user sees it."""

    name: str  #: dotted key, e.g. ``stack.sigma``
    type: str  #: readable type
    default: str  #: default value as it would be written on the command line
    doc: str  #: meaning (from the ``#:`` comment or ``metadata["doc"]``)


def _field_comments(cls: type) -> dict[str, str]:
    """``#:`` comments of a dataclass's fields, read from its source (and its bases')."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines, _ = inspect.getsourcelines(klass)
        except (OSError, TypeError):
            continue
        source = textwrap.dedent("".join(lines))
        tree = ast.parse(source)
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        src_lines = source.splitlines()
        for node in body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                doc = _doc_comment(src_lines, node.lineno - 1, node.end_lineno)
                if doc:
                    comments[node.target.id] = doc
    return comments


def _doc_comment(lines: list[str], first: int, end: int) -> str:
    """The ``#:`` comment of the field on ``lines[first:end]``: trailing one of its lines (a
    wrapped default), or else the ``#:`` lines directly above it (Sphinx's other form)."""
    for line in lines[first:end]:
        match = re.search(r"#:\s*(.*)$", line)
        if match:
            return match.group(1).strip()
    above: list[str] = []
    for line in reversed(lines[:first]):
        match = re.match(r"\s*#:\s?(.*)$", line)
        if not match:
            break
        above.insert(0, match.group(1).strip())
    return " ".join(above)


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(str(m.value) for m in tp)
    origin = typing.get_origin(tp)
    if origin is not None:
        args = [a for a in typing.get_args(tp)]
        if origin in (typing.Union, types.UnionType):
            return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
        return (
            f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
        )
    return getattr(tp, "__name__", str(tp))


def _default(f: dataclasses.Field) -> str:
    if f.default is not MISSING:
        value = f.default
    elif f.default_factory is not MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
    else:
        return "(required)"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if dataclasses.is_dataclass(value):
        return "(see below)"
    if str(value) == "???":
        return "(required)"
    if isinstance(value, str):
        return value if value else "''"  # as typed on the command line: key=value
    return str(value)


def config_fields(cls: type, prefix: str = "", fallback: str = "") -> list[FieldDoc]:
    """Every field of a config dataclass, nested dataclasses flattened into dotted keys.

    Fields without a comment of their own get ``fallback`` (the nested class's docstring).
    """
    comments = _field_comments(cls)
    hints = typing.get_type_hints(cls)
    out: list[FieldDoc] = []
    for f in dataclasses.fields(cls):
        tp = hints.get(f.name, f.type)
        key = f"{prefix}{f.name}"
        doc = f.metadata.get("doc") or comments.get(f.name, "")
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            out += config_fields(tp, prefix=f"{key}.", fallback=doc or _first_line(tp.__doc__))
            continue
        if not doc and isinstance(tp, type) and issubclass(tp, enum.Enum):
            doc = (tp.__doc__ or "").strip().splitlines()[0]
        out.append(FieldDoc(key, _type_name(tp), _default(f), doc or fallback))
    return out


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _table(rows: list[FieldDoc]) -> list[str]:
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 18 14 46",
        "",
        "   * - key",
        "     - type",
        "     - default",
        "     - meaning",
    ]
    for r in rows:
        lines += [
            f"   * - ``{r.name}``",
            f"     - {_literal(r.type)}",
            f"     - {_literal(r.default)}",
            f"     - {_escape(r.doc) or '—'}",
        ]
    return lines + [""]


def _literal(text: str) -> str:
    return f"``{text}``" if text else "—"


def _escape(text: str) -> str:
    """Comments are plain text: keep their ``literals`` and escape what RST would misread."""
    parts = re.split(r"(``[^`]+``)", text)
    clean = []
    for part in parts:
        if part.startswith("``"):
            clean.append(part)
        else:
            clean.append(re.sub(r"([*_`|\\])", r"\\\1", part))
    return "".join(clean)


def steps_rst(steps: dict[str, type], orders: list[tuple[str, str, list[str]]]) -> str:
    """RST for every registered step: what it does, its scope, and its config fields.

    ``orders`` are the default step lists as (title, short name, step names), e.g.
    ``("near-infrared", "NIR", [...])``; steps appear in their order, then any other step.
    """
    lines = [
        "..  This file is generated by potpyri.framework.docgen from the step registry; "
        "do not edit.",
        "",
    ]
    for title, _, names in orders:
        lines += [f"Default order ({title}): " + " → ".join(f"``{s}``" for s in names), ""]
    listed = list(dict.fromkeys(n for _, _, names in orders for n in names))
    for name in listed + sorted(set(steps) - set(listed)):
        if name in steps:
            lines += _step_section(name, steps[name], orders)
    return "\n".join(lines) + "\n"


def _step_section(name: str, cls: Any, orders: list[tuple[str, str, list[str]]]) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    module_doc = (inspect.getmodule(cls).__doc__ or "").strip().splitlines()
    summary = module_doc[0] if module_doc else doc
    title = f"``{name}``"
    lines = [f".. _step-{name}:", "", title, "-" * len(title), ""]
    lines += [_escape(summary), ""]
    if doc and doc != summary:
        lines += [_escape(doc), ""]
    facts = [f"scope: ``{cls.scope.value}``", f"version: ``{cls.version}``"]
    if cls.depends_on:
        facts.append("also depends on: " + ", ".join(f"``{d}``" for d in cls.depends_on))
    if cls.depends_on_files:
        named = ", ".join(f"``{d}``" for d in cls.depends_on_files)
        facts.append(f"and on the content of the files named by {named}")
    where = [f"not in the default {short} list" for _, short, names in orders if name not in names]
    if where:
        facts.append("; ".join(where))
    renamed = cls.Config.renamed
    if renamed:
        facts.append(
            "renamed (old names still accepted, with a warning): "
            + ", ".join(f"``{name}.{old}`` → ``{name}.{new}``" for old, new in renamed.items())
        )
    lines += ["- " + f for f in facts] + [""]
    return lines + _table(config_fields(cls.Config, prefix=f"{name}."))


def run_config_rst(fixed: list[FieldDoc], nodes: list[tuple[str, type, str]]) -> str:
    """RST for the run-wide config: plain ``fixed`` keys, then each (title, dataclass, prefix)."""
    lines = ["..  This file is generated by potpyri.framework.docgen; do not edit.", ""]
    lines += ["Run", "~~~", ""] + _table(fixed)
    for title, cls, prefix in nodes:
        lines += [
            title,
            "~" * len(title),
            "",
            _escape((cls.__doc__ or "").strip().splitlines()[0]),
            "",
        ]
        lines += _table(config_fields(cls, prefix=prefix))
    return "\n".join(lines) + "\n"


# -- header keywords -------------------------------------------------------------------------------


@dataclass
class KeywordDoc:
    """A documented header keyword or keyword family (``PPSTEP{n}``)."""

    key: str
    where: str
    step: str
    meaning: str

    @property
    def pattern(self) -> re.Pattern[str]:
        """Regex matching the keyword; ``{n}`` stands for digits, ``{i}``/``{j}`` for one digit."""
        text = re.escape(self.key)
        text = text.replace(r"\{n\}", r"\d+").replace(r"\{i\}", r"\d").replace(r"\{j\}", r"\d")
        text = text.replace(r"\{x\}", r"\w+")
        return re.compile(f"^{text}$")


def keywords_file() -> Path:
    """The single list of documented keywords (read by the docs page and the keyword test)."""
    return Path(__file__).resolve().parents[2] / "docs" / "keywords.yaml"


def load_keywords(path: Path | None = None) -> dict[str, list[KeywordDoc]]:
    """Documented keywords by section (``potpyri`` products, ``standard`` FITS/WCS cards)."""
    data = yaml.safe_load((path or keywords_file()).read_text())
    return {
        section: [KeywordDoc(**entry) for entry in entries] for section, entries in data.items()
    }


def documented(key: str, docs: dict[str, list[KeywordDoc]]) -> KeywordDoc | None:
    """The entry documenting ``key``, if any."""
    for entries in docs.values():
        for entry in entries:
            if entry.pattern.match(key):
                return entry
    return None


def keywords_rst(path: Path | None = None) -> str:
    """RST tables of the documented keywords."""
    docs = load_keywords(path)
    titles = {"potpyri": "Keywords potpyri writes", "standard": "Standard FITS and WCS keywords"}
    lines = [
        "..  This file is generated by potpyri.framework.docgen from docs/keywords.yaml; "
        "do not edit.",
        "",
    ]
    for section, entries in docs.items():
        title = titles.get(section, section)
        lines += [title, "~" * len(title), ""]
        lines += [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 16 20 14 50",
            "",
            "   * - keyword",
            "     - extension",
            "     - written by",
            "     - meaning",
        ]
        for e in entries:
            lines += [
                f"   * - ``{e.key}``",
                f"     - {_escape(e.where)}",
                f"     - {_escape(e.step)}",
                f"     - {_escape(e.meaning)}",
            ]
        lines.append("")
    return "\n".join(lines) + "\n"

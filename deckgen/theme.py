"""Load and validate themes: TOML data files under themes/ (or a path) into a Theme."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from deckgen.errors import DeckgenError, Diagnostics

EMU_PER_INCH = 914400
SLIDE_SIZES = {"16:9": (13.333, 7.5), "4:3": (10.0, 7.5), "16:10": (12.0, 7.5)}
HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

#: The schema: section -> key -> (type, allowed range or None). "" is the top level.
SCHEMA: dict[str, dict[str, tuple[type, tuple[float, float] | None]]] = {
    "": {"name": (str, None), "description": (str, None), "lang": (str, None),
         "extends": (str, None)},
    "slide": {"size": (str, None), "width": (float, (4.0, 56.0)),
              "height": (float, (3.0, 56.0))},
    "sizes": {"title": (float, (12, 96)), "title_min": (float, (10, 96)),
              "body": (float, (10, 72)), "body_min": (float, (8, 72)),
              "code": (float, (8, 48)), "code_min": (float, (6, 48)),
              "title_slide": (float, (16, 120)), "subtitle": (float, (10, 72)),
              "kicker": (float, (8, 40)), "footer": (float, (6, 24)),
              "line_spacing": (float, (1.0, 2.0)), "paragraph_spacing": (float, (0.0, 2.0))},
    "grid": {"margin_left": (float, (0.0, 3.0)), "margin_right": (float, (0.0, 3.0)),
             "margin_top": (float, (0.0, 3.0)), "margin_bottom": (float, (0.0, 3.0)),
             "gutter": (float, (0.0, 2.0)), "title_height": (float, (0.4, 3.0)),
             "footer_height": (float, (0.0, 1.5))},
    "callout": {"fill": (str, None), "bar": (str, None), "text": (str, None)},
    "inline_code": {"color": (str, None), "bold": (bool, None), "monospace": (bool, None)},
    "footer": {"title": (bool, None), "number": (bool, None)},
}
FONT_ROLES = ("heading", "body", "code")
FONT_KEYS = ("latin", "east_asian")
REQUIRED_COLOURS = ("background", "text", "muted", "accent", "accent_dark", "rule", "link",
                    "callout_fill", "callout_bar", "code_fill", "code_text", "title_fill",
                    "title_text", "surface", "secondary")


@dataclass(frozen=True)
class FontFace:
    """The typefaces a text role asks for: a Latin face and an East Asian (Hangul) face."""

    latin: str
    east_asian: str


@dataclass(frozen=True)
class Sizes:
    """Type sizes in points, and spacing as multiples of the type size."""

    title: float
    title_min: float
    body: float
    body_min: float
    code: float
    code_min: float
    title_slide: float
    subtitle: float
    kicker: float
    footer: float
    line_spacing: float
    paragraph_spacing: float


@dataclass(frozen=True)
class Grid:
    """The slide grid in EMU: margins, the gutter between columns, title and footer bands."""

    margin_left: int
    margin_right: int
    margin_top: int
    margin_bottom: int
    gutter: int
    title_height: int
    footer_height: int


@dataclass(frozen=True)
class Theme:
    """A validated theme: everything the layout and the renderer need to know of a look."""

    name: str
    description: str
    lang: str
    path: Path
    slide_width: int
    slide_height: int
    colors: dict[str, str]
    fonts: dict[str, FontFace]
    sizes: Sizes
    grid: Grid
    callout_fill: str
    callout_bar: str
    callout_text: str
    inline_code_color: str
    inline_code_bold: bool
    inline_code_monospace: bool
    footer_title: bool
    footer_number: bool

    def color(self, name_or_hex: str) -> str:
        """A colour as "RRGGBB" hex, from a palette name or a "#RRGGBB" literal."""
        value = self.colors.get(name_or_hex, name_or_hex)
        return value.lstrip("#").upper()


def themes_directory() -> Path:
    """The folder of built-in themes (the repository's themes/, packaged as deckgen.themes)."""
    source_tree = Path(__file__).resolve().parent.parent / "themes"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("deckgen.themes")))


def builtin_themes() -> dict[str, Path]:
    """The built-in themes by name."""
    return {path.stem: path for path in sorted(themes_directory().glob("*.toml"))}


def resolve_theme_path(name_or_path: str) -> Path:
    """The file of a theme given by built-in name or by path to a .toml file."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise DeckgenError(f"theme file {name_or_path} not found", None)
        return path
    themes = builtin_themes()
    if name_or_path not in themes:
        raise DeckgenError(f"unknown theme '{name_or_path}'; available themes: "
                           f"{', '.join(themes) or '(none)'}, or a path to a .toml file")
    return themes[name_or_path]


def load_theme(name_or_path: str, diagnostics: Diagnostics) -> Theme:
    """Load, merge (`extends`) and validate a theme; unknown keys are warnings."""
    path = resolve_theme_path(name_or_path)
    data = _merged_data(path, seen=())
    return _validated(data, path, diagnostics)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise DeckgenError(f"theme is not valid TOML: {exc}", path) from exc
    except OSError as exc:
        raise DeckgenError(f"theme cannot be read: {exc.strerror}", path) from exc


def _merged_data(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    data = _read_toml(path)
    parent_name = data.get("extends")
    if parent_name is None:
        return data
    if not isinstance(parent_name, str):
        raise DeckgenError("key 'extends' must be a theme name or path", path)
    parent_path = (path.parent / parent_name if parent_name.endswith(".toml")
                   else resolve_theme_path(parent_name))
    if parent_path.resolve() in seen or parent_path.resolve() == path.resolve():
        raise DeckgenError(f"theme extends itself through '{parent_name}'", path)
    parent = _merged_data(parent_path, (*seen, path.resolve()))
    return _deep_merge(parent, {k: v for k, v in data.items() if k != "extends"})


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validated(data: dict[str, Any], path: Path, diagnostics: Diagnostics) -> Theme:
    checker = _Checker(path, diagnostics)
    for key in data:
        if key not in SCHEMA[""] and key not in SCHEMA and key not in ("colors", "fonts"):
            checker.unknown(key, [*SCHEMA[""], *SCHEMA, "colors", "fonts"])
    colors = checker.colors(data.get("colors", {}))
    fonts = checker.fonts(data.get("fonts", {}))
    sections = {name: checker.section(name, data.get(name, {})) for name in SCHEMA if name}
    slide = sections["slide"]
    size = str(slide.get("size", "16:9"))
    if "width" in slide and "height" in slide:
        width_in, height_in = float(slide["width"]), float(slide["height"])
    elif size in SLIDE_SIZES:
        width_in, height_in = SLIDE_SIZES[size]
    else:
        raise checker.error("slide.size", f"'{size}'", ", ".join(SLIDE_SIZES))
    sizes = Sizes(**{key: float(checker.required(sections["sizes"], "sizes", key))
                     for key in SCHEMA["sizes"]})
    if sizes.body_min > sizes.body or sizes.title_min > sizes.title \
            or sizes.code_min > sizes.code:
        raise DeckgenError("sizes: each minimum (body_min, title_min, code_min) must not "
                           "exceed its size", path)
    grid = Grid(**{key: round(float(checker.required(sections["grid"], "grid", key))
                              * EMU_PER_INCH) for key in SCHEMA["grid"]})
    callout, inline_code, footer = (sections["callout"], sections["inline_code"],
                                    sections["footer"])
    theme = Theme(
        name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
        lang=str(data.get("lang", "ko-KR")), path=path,
        slide_width=round(width_in * EMU_PER_INCH), slide_height=round(height_in * EMU_PER_INCH),
        colors=colors, fonts=fonts, sizes=sizes, grid=grid,
        callout_fill=checker.colour_ref(colors, "callout.fill", callout.get("fill", "surface")),
        callout_bar=checker.colour_ref(colors, "callout.bar", callout.get("bar", "accent")),
        callout_text=checker.colour_ref(colors, "callout.text", callout.get("text", "text")),
        inline_code_color=checker.colour_ref(colors, "inline_code.color",
                                             inline_code.get("color", "accent")),
        inline_code_bold=bool(inline_code.get("bold", True)),
        inline_code_monospace=bool(inline_code.get("monospace", False)),
        footer_title=bool(footer.get("title", True)),
        footer_number=bool(footer.get("number", True)),
    )
    return theme


class _Checker:
    """Validation helpers that name the theme file, the key and what is allowed."""

    def __init__(self, path: Path, diagnostics: Diagnostics) -> None:
        self.path = path
        self.diagnostics = diagnostics

    def error(self, key: str, value: str, allowed: str) -> DeckgenError:
        return DeckgenError(f"key '{key}' is {value}; allowed: {allowed}", self.path)

    def unknown(self, key: str, known: list[str]) -> None:
        self.diagnostics.warn(f"unknown theme key '{key}' ignored; known keys: "
                              f"{', '.join(known)}", self.path)

    def section(self, name: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(name, "not a table", f"a [{name}] table")
        schema = SCHEMA[name]
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in schema:
                self.unknown(f"{name}.{key}", list(schema))
                continue
            kind, allowed = schema[key]
            if kind is float and isinstance(item, int | float) and not isinstance(item, bool):
                item = float(item)
            if not isinstance(item, kind):
                raise self.error(f"{name}.{key}", repr(item), f"a {kind.__name__}")
            if allowed is not None and isinstance(item, float) \
                    and not allowed[0] <= item <= allowed[1]:
                raise self.error(f"{name}.{key}", repr(item),
                                 f"{allowed[0]:g} to {allowed[1]:g}")
            out[key] = item
        return out

    def required(self, section: dict[str, Any], name: str, key: str) -> Any:
        if key not in section:
            raise DeckgenError(f"key '{name}.{key}' is missing", self.path)
        return section[key]

    def colors(self, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.error("colors", "not a table", "a [colors] table of \"#RRGGBB\"")
        for key, colour in value.items():
            if not isinstance(colour, str) or not HEX_COLOUR.match(colour):
                raise self.error(f"colors.{key}", repr(colour), "\"#RRGGBB\" hex colours")
        missing = [key for key in REQUIRED_COLOURS if key not in value]
        if missing:
            raise DeckgenError(f"colors: missing {', '.join(missing)}", self.path)
        return {str(k): str(v) for k, v in value.items()}

    def colour_ref(self, colors: dict[str, str], key: str, value: object) -> str:
        if isinstance(value, str) and (value in colors or HEX_COLOUR.match(value)):
            return colors.get(value, value)
        raise self.error(key, repr(value), "a colour name from [colors] or \"#RRGGBB\"")

    def fonts(self, value: object) -> dict[str, FontFace]:
        if not isinstance(value, dict):
            raise self.error("fonts", "not a table", "[fonts.heading], [fonts.body], "
                             "[fonts.code]")
        faces: dict[str, FontFace] = {}
        for role in FONT_ROLES:
            entry = value.get(role)
            if not isinstance(entry, dict):
                raise DeckgenError(f"key 'fonts.{role}' is missing; give latin and "
                                   "east_asian faces", self.path)
            for key in entry:
                if key not in FONT_KEYS:
                    self.unknown(f"fonts.{role}.{key}", list(FONT_KEYS))
            names = [entry.get(key) for key in FONT_KEYS]
            if not all(isinstance(name, str) and name.strip() for name in names):
                raise self.error(f"fonts.{role}", repr(entry),
                                 "latin = \"Face\" and east_asian = \"Face\"")
            faces[role] = FontFace(str(names[0]), str(names[1]))
        for role in value:
            if role not in FONT_ROLES:
                self.unknown(f"fonts.{role}", list(FONT_ROLES))
        return faces

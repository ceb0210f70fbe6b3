"""Load and validate themes: TOML data files under themes/ (or a path) into a Theme."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from deckgen.errors import DeckgenError, Diagnostics
from deckgen.measure import METRIC_EQUIVALENTS, find_font, measure_file_for
from deckgen.template import LAYOUT_ROLES, Template, read_template, template_grid

EMU_PER_INCH = 914400
EMU_PER_PT = 12700
SLIDE_SIZES = {"16:9": (13.333, 7.5), "4:3": (10.0, 7.5), "16:10": (12.0, 7.5)}
HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

Schema = dict[str, dict[str, tuple[type, tuple[float, float] | None]]]
#: The schema: section -> key -> (type, allowed range or None). "" is the top level.
SCHEMA: Schema = {
    "": {"name": (str, None), "description": (str, None), "lang": (str, None),
         "extends": (str, None), "template": (str, None)},
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
    "title_slide": {"accent": (str, None)},
    "section_slide": {"fill": (str, None), "text": (str, None), "bar": (str, None)},
    "table": {"header_fill": (str, None), "header_text": (str, None),
              "band_fill": (str, None), "border": (str, None)},
    "footer": {"title": (bool, None), "number": (bool, None), "date": (bool, None)},
    "logo": {"image": (str, None), "height": (float, (0.1, 1.5))},
    "background": {"image": (str, None)},
    "layouts": {role: (str, None) for role in LAYOUT_ROLES},
}
FONT_ROLES = ("heading", "body", "code")
FONT_KEYS = ("latin", "east_asian")
REQUIRED_COLOURS = ("background", "text", "muted", "accent", "accent_dark", "rule", "link",
                    "callout_fill", "callout_bar", "code_fill", "code_text", "title_fill",
                    "title_text", "surface", "secondary")
#: Keys naming files, resolved against the folder of the theme file that sets them. Like a
#: note's pictures, the files must be inside that folder, the note's or a resource path.
PATH_KEYS = (("", "template"), ("logo", "image"), ("background", "image"))
#: What a theme file may be: its size, and how deeply its tables and arrays may nest.
MAX_THEME_BYTES = 256 * 1024
MAX_THEME_DEPTH = 16
#: Dots a line may hold outside strings and comments: dotted keys and table names cost
#: tomllib time quadratic in their length, so a line with more is refused before parsing.
MAX_LINE_DOTS = 4 * MAX_THEME_DEPTH
#: Characters a font name cannot hold (control characters).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f]")
#: Debian packages of the open fonts deckgen measures with (see measure.METRIC_EQUIVALENTS).
FONT_PACKAGES = {
    "liberation sans": "fonts-liberation2", "liberation serif": "fonts-liberation2",
    "liberation mono": "fonts-liberation2", "arimo": "fonts-croscore",
    "tinos": "fonts-croscore", "cousine": "fonts-croscore",
    "carlito": "fonts-crosextra-carlito", "caladea": "fonts-crosextra-caladea",
    "noto sans cjk kr": "fonts-noto-cjk", "nanumgothic": "fonts-nanum",
    "dejavu sans": "fonts-dejavu-core", "dejavu sans mono": "fonts-dejavu-core",
}
#: WCAG AA contrast: normal text, and large text (18 pt, or 14 pt bold) and graphics.
AA_TEXT, AA_LARGE = 4.5, 3.0


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
    """A validated theme: everything the layout and the renderer need to know of a look.

    Colour fields other than `colors` hold resolved "#RRGGBB" values. `template` is the
    company template the deck is built on, if any: the slide size, grid, fonts and colours
    above then already come from it (where the theme does not override them)."""

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
    footer_date: bool
    title_accent: str
    section_fill: str
    section_text: str
    section_bar: str
    table_header_fill: str
    table_header_text: str
    table_band_fill: str
    table_border: str
    logo: Path | None
    logo_height: int
    background_image: Path | None
    template: Template | None = None

    def color(self, name_or_hex: str) -> str:
        """A colour as "RRGGBB" hex, from a palette name or a "#RRGGBB" literal."""
        value = self.colors.get(name_or_hex, name_or_hex)
        return value.lstrip("#").upper()


def themes_directory() -> Path:
    """The folder of built-in themes (the repository's themes/, packaged as deckgen.themes)."""
    source_tree = Path(__file__).resolve().parent.parent / "themes"
    if source_tree.is_dir():
        return source_tree
    packaged = resources.files("deckgen.themes")
    if isinstance(packaged, Path):
        return packaged
    for child in packaged.iterdir():  # a namespace package's files are listed, not a path
        if isinstance(child, Path) and child.suffix == ".toml":
            return child.parent
    return Path(str(packaged))


def builtin_themes() -> dict[str, Path]:
    """The built-in themes by name."""
    return {path.stem: path for path in sorted(themes_directory().glob("*.toml"))}


def is_theme_path(name_or_path: str) -> bool:
    """Whether a theme is given as a path to a .toml file, not by a built-in name."""
    return name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path


def resolve_theme_path(name_or_path: str) -> Path:
    """The file of a theme given by built-in name or by path to a .toml file."""
    if is_theme_path(name_or_path):
        path = Path(name_or_path)
        if path.is_dir():
            raise DeckgenError("is a folder, not a theme file; give a theme's .toml file or "
                               "a built-in theme's name", path)
        if not path.is_file():
            raise DeckgenError(f"theme file {name_or_path} not found", None)
        return path
    themes = builtin_themes()
    if name_or_path not in themes:
        raise DeckgenError(f"unknown theme '{name_or_path}'; available themes: "
                           f"{', '.join(themes) or '(none)'}, or a path to a .toml file")
    return themes[name_or_path]


def load_theme(name_or_path: str, diagnostics: Diagnostics,
               template: Path | None = None, roots: Sequence[Path] = (),
               from_note: bool = False) -> Theme:
    """Load, merge (`extends`) and validate a theme; unknown keys, missing fonts and low
    contrast are warnings. With a company template (`template`, else the theme's own
    `template` key) the slide size, grid, fonts and colours come from the template, except
    the fonts and colours the theme itself (not the built-in default) sets. The files a
    theme names must be inside its own folder or `roots` (the note's folder and the
    resource paths); another is "not found", as a note's picture outside them. So must a
    theme an `extends` names, or one the note names (`from_note`, its front matter's
    `theme`): inside `roots`, the built-in themes' folder or the folder of the theme given
    here by the user, who alone may give a theme from anywhere."""
    path = resolve_theme_path(name_or_path)
    allowed = (*roots, themes_directory())
    if not from_note:
        allowed = (*allowed, path.parent)
    elif not within(path, allowed):
        raise DeckgenError(f"theme file {name_or_path} not found", None)
    layers = _layers(path, seen=(), roots=allowed)
    data: dict[str, Any] = {}
    for _, layer in layers:
        data = _deep_merge(data, layer)
    theme = _validated(data, path, diagnostics)
    template_path = template or (Path(data["template"]) if data.get("template") else None)
    if template_path is None:
        _report(theme, diagnostics, lambda _key: path)
        return theme
    default = builtin_themes().get("default")
    explicit: dict[str, Any] = {}
    for layer_path, layer in layers:
        if default is None or layer_path.resolve() != default.resolve():
            explicit = _deep_merge(explicit, layer)
    read = read_template(template_path, _layout_overrides(data), diagnostics)
    merged = _with_template(data, explicit, read, theme)
    try:
        theme = _validated(merged, path, Diagnostics(), read)
    except DeckgenError as error:  # the template's size and placeholders did not fit
        merged["grid"] = data.get("grid", {})
        try:
            theme = _validated(merged, path, Diagnostics(), read)
        except DeckgenError:
            raise DeckgenError(f"the template's slide size and placeholders give a theme "
                               f"it cannot use: {error.message}", read.path) from error
        diagnostics.warn(f"the template's placeholders give a grid the deck cannot use "
                         f"({error.message}); the theme's margins are used", read.path)
    explicit_colours = set(explicit.get("colors", {}))

    def origin(key: str) -> Path:
        return path if key in explicit_colours else read.path

    _report(theme, diagnostics, origin)
    return theme


def _report(theme: Theme, diagnostics: Diagnostics, origin: Callable[[str], Path]) -> None:
    for message in font_problems(theme):
        diagnostics.warn(message, theme.path)
    for problem in contrast_problems(theme):
        diagnostics.warn(problem.message, origin(problem.colour_key))


def _read_toml(path: Path) -> dict[str, Any]:
    """A theme file's TOML; a file too large, not in UTF-8, not TOML or nested too deeply is
    an error naming it (and the line, where there is one)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_THEME_BYTES + 1)
    except OSError as exc:
        raise DeckgenError(f"theme cannot be read: {exc.strerror}", path) from exc
    if len(raw) > MAX_THEME_BYTES:
        raise DeckgenError(f"theme is larger than {MAX_THEME_BYTES // 1024} KB; refused", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeckgenError(f"theme is not UTF-8 text (byte 0x{raw[exc.start]:02X}); save it "
                           "as UTF-8", path, raw.count(b"\n", 0, exc.start) + 1) from exc
    number = _line_with_many_dots(text)
    if number is not None:  # tomllib takes quadratic time on long dotted keys
        raise DeckgenError(f"theme nests tables or arrays more than {MAX_THEME_DEPTH} "
                           "deep", path, number)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DeckgenError(f"theme is not valid TOML: {exc}", path) from exc
    except RecursionError as exc:
        raise DeckgenError(f"theme nests tables or arrays more than {MAX_THEME_DEPTH} deep",
                           path) from exc
    if _depth(data) > MAX_THEME_DEPTH:
        raise DeckgenError(f"theme nests tables or arrays more than {MAX_THEME_DEPTH} deep",
                           path)
    return data


def _line_with_many_dots(text: str) -> int | None:
    """The number of the first line with more than MAX_LINE_DOTS dots outside strings and
    comments (wherever they stand: in a table header, a key, an inline table's key), None
    when there is none. TOML keys and inline tables end with their line; a multi-line
    string may span lines and its dots are not counted."""
    number, dots, index, end = 1, 0, 0, len(text)
    while index < end:
        char = text[index]
        if char == "\n":
            number, dots = number + 1, 0
        elif char == ".":
            dots += 1
            if dots > MAX_LINE_DOTS:
                return number
        elif char == "#":
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
            continue
        elif char in "\"'":
            quote = text[index:index + 3] if text[index:index + 3] == char * 3 else char
            closing = _string_end(text, index + len(quote), quote)
            number += text.count("\n", index, closing)
            index = closing
            continue
        index += 1
    return None


def _string_end(text: str, start: int, quote: str) -> int:
    """Where a TOML string opened by `quote` before `start` ends (just after its closing
    quote; the text's end when it has none, which tomllib then reports). A basic string's
    backslash escapes the next character; a single-line string ends with its line."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\" and quote[0] == '"':
            index += 2
            continue
        if char == "\n" and len(quote) == 1:
            return index
        if text.startswith(quote, index):
            return index + len(quote)
        index += 1
    return len(text)


def _depth(value: object) -> int:
    """How deeply tables and arrays nest in a TOML value (counted without recursion)."""
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 0)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_THEME_DEPTH:
            break
        if isinstance(item, dict):
            todo.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            todo.extend((child, depth + 1) for child in item)
    return deepest


def within(path: Path, roots: Sequence[Path]) -> bool:
    """Whether a file (existing or not, its links followed) is inside one of the folders."""
    try:
        resolved = path.resolve()
        return any(resolved.is_relative_to(root.resolve()) for root in roots)
    except (OSError, ValueError, RuntimeError):  # too long, a NUL, a symlink loop
        return False


def not_found_picture(key: str, value: str, path: Path) -> DeckgenError:
    """The error for a theme's picture that is missing or outside the allowed folders (the
    same for both: it does not tell whether the file exists)."""
    return DeckgenError(f"key '{key}' is '{value}', which is not found; allowed: a picture "
                        "file (PNG, JPEG or GIF), relative to the theme file", path)


def _layers(path: Path, seen: tuple[Path, ...],
            roots: tuple[Path, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """The theme files from the root of the `extends` chain to `path`, each with its file
    names resolved against its own folder, and inside it or `roots`; a theme it extends
    (by a path, relative to it, or by a built-in name) must be inside `roots`."""
    data = _read_toml(path)
    for section, key in PATH_KEYS:
        table = data.get(section, {}) if section else data
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            table[key] = str(path.parent / Path(table[key]).expanduser())
            if within(Path(table[key]), (path.parent, *roots)):
                continue
            if not section:
                raise DeckgenError("template not found (give a .pptx or .potx file)",
                                   Path(table[key]))
            raise not_found_picture(f"{section}.{key}", table[key], path)
    parent_name = data.pop("extends", None)
    if parent_name is None:
        return [(path, data)]
    if not isinstance(parent_name, str):
        raise DeckgenError("key 'extends' must be a theme name or path", path)
    parent_path = (path.parent / parent_name
                   if parent_name.endswith(".toml") or "/" in parent_name or "\\" in parent_name
                   else resolve_theme_path(parent_name))
    if not parent_path.is_file() or not within(parent_path, roots):
        raise DeckgenError(f"key 'extends' names {parent_name}, which is not found", path)
    if parent_path.resolve() in seen or parent_path.resolve() == path.resolve():
        raise DeckgenError(f"theme extends itself through '{parent_name}'", path)
    return [*_layers(parent_path, (*seen, path.resolve()), roots), (path, data)]


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _layout_overrides(data: dict[str, Any]) -> dict[str, str]:
    table = data.get("layouts", {})
    if not isinstance(table, dict):
        return {}
    return {str(role): name for role, name in table.items()
            if role in LAYOUT_ROLES and isinstance(name, str) and name.strip()}


def _with_template(data: dict[str, Any], explicit: dict[str, Any], template: Template,
                   theme: Theme) -> dict[str, Any]:
    """Theme data on a template: its slide size and grid always, its fonts and colours
    unless the theme sets them."""
    fonts = {
        "heading": {"latin": template.heading_font.latin or theme.fonts["heading"].latin,
                    "east_asian": (template.heading_font.east_asian
                                   or theme.fonts["heading"].east_asian)},
        "body": {"latin": template.body_font.latin or theme.fonts["body"].latin,
                 "east_asian": template.body_font.east_asian or theme.fonts["body"].east_asian},
    }
    merged = _deep_merge(data, {"fonts": fonts, "colors": template_palette(template)})
    merged = _deep_merge(merged, {key: explicit[key] for key in ("fonts", "colors")
                                  if key in explicit})
    sizes = theme.sizes
    footer_room = round((sizes.footer * sizes.line_spacing + 0.16 * sizes.footer) * EMU_PER_PT)
    grid = template_grid(template, theme.grid.footer_height > 0, footer_room,
                         theme.grid.margin_bottom)
    merged["grid"] = {**merged.get("grid", {}),
                      **{key: min(value, 3 * EMU_PER_INCH) / EMU_PER_INCH
                         for key, value in grid.items()}}
    merged["slide"] = {"width": template.slide_width / EMU_PER_INCH,
                       "height": template.slide_height / EMU_PER_INCH}
    return merged


def _validated(data: dict[str, Any], path: Path, diagnostics: Diagnostics,
               template: Template | None = None) -> Theme:
    checker = _Checker(path, diagnostics)
    for key in data:
        if key not in SCHEMA[""] and key not in SCHEMA and key not in ("colors", "fonts"):
            checker.unknown(key, [*SCHEMA[""], *SCHEMA, "colors", "fonts"])
    for key in ("name", "description", "lang", "template"):
        if key in data and not isinstance(data[key], str):
            raise checker.error(key, repr(data[key]), "a string")
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
    if grid.margin_left + grid.margin_right >= round(width_in * EMU_PER_INCH) * 0.8 or \
            grid.margin_top + grid.margin_bottom + grid.title_height + grid.footer_height \
            >= round(height_in * EMU_PER_INCH) * 0.8:
        raise DeckgenError("grid: the margins, title band and footer leave less than a fifth "
                           "of the slide for content; make them smaller", path)
    callout, inline_code, footer = (sections["callout"], sections["inline_code"],
                                    sections["footer"])
    section, table, logo = sections["section_slide"], sections["table"], sections["logo"]

    def ref(key: str, table: dict[str, Any], default: str) -> str:
        return checker.colour_ref(colors, key, table.get(key.split(".")[1], default))

    return Theme(
        name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
        lang=str(data.get("lang", "ko-KR")), path=path,
        slide_width=round(width_in * EMU_PER_INCH), slide_height=round(height_in * EMU_PER_INCH),
        colors=colors, fonts=fonts, sizes=sizes, grid=grid,
        callout_fill=ref("callout.fill", callout, "surface"),
        callout_bar=ref("callout.bar", callout, "accent"),
        callout_text=ref("callout.text", callout, "text"),
        inline_code_color=ref("inline_code.color", inline_code, "accent"),
        inline_code_bold=bool(inline_code.get("bold", True)),
        inline_code_monospace=bool(inline_code.get("monospace", False)),
        footer_title=bool(footer.get("title", True)),
        footer_number=bool(footer.get("number", True)),
        footer_date=bool(footer.get("date", False)),
        title_accent=ref("title_slide.accent", sections["title_slide"], "accent"),
        section_fill=ref("section_slide.fill", section, "background"),
        section_text=ref("section_slide.text", section, "text"),
        section_bar=ref("section_slide.bar", section, "accent"),
        table_header_fill=ref("table.header_fill", table, "callout_fill"),
        table_header_text=ref("table.header_text", table, "text"),
        table_band_fill=ref("table.band_fill", table, "surface"),
        table_border=ref("table.border", table, "background"),
        logo=checker.image("logo.image", logo.get("image")),
        logo_height=round(float(logo.get("height", 0.3)) * EMU_PER_INCH),
        background_image=checker.image("background.image",
                                       sections["background"].get("image")),
        template=template,
    )


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
        return {str(k): str(v).upper() for k, v in value.items()}

    def colour_ref(self, colors: dict[str, str], key: str, value: object) -> str:
        if isinstance(value, str) and (value in colors or HEX_COLOUR.match(value)):
            return colors.get(value, value).upper()
        raise self.error(key, repr(value), "a colour name from [colors] ("
                         f"{', '.join(colors)}) or \"#RRGGBB\"")

    def image(self, key: str, value: object) -> Path | None:
        if not value:
            return None
        path = Path(str(value))
        if not path.is_file():
            raise not_found_picture(key, str(value), self.path)
        return path

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
            for key, name in zip(FONT_KEYS, names, strict=True):
                if CONTROL_CHARACTERS.search(str(name)):
                    raise self.error(f"fonts.{role}.{key}", repr(name),
                                     "a font name without control characters")
            faces[role] = FontFace(str(names[0]), str(names[1]))
        for role in value:
            if role not in FONT_ROLES:
                self.unknown(f"fonts.{role}", list(FONT_ROLES))
        return faces


# --- fonts --------------------------------------------------------------------------------


def font_problems(theme: Theme) -> list[str]:
    """A message for each face that has neither an installed file nor an installed
    metric-compatible equivalent (text is then measured with a fallback and may not fit),
    naming the face, the keys that ask for it and the Debian package to install."""
    keys: dict[tuple[str, bool], list[str]] = {}
    for role, faces in theme.fonts.items():
        keys.setdefault((faces.latin, False), []).append(f"fonts.{role}.latin")
        keys.setdefault((faces.east_asian, True), []).append(f"fonts.{role}.east_asian")
    messages = []
    for (face, east_asian), where in keys.items():
        names = METRIC_EQUIVALENTS.get(face.casefold(), (face,))
        if any(find_font(name, False) is not None for name in names):
            continue
        fallback = measure_file_for(face, False, east_asian)
        measured = (f"measured with {fallback.family}" if fallback is not None
                    else "measured with width estimates")
        package = next((FONT_PACKAGES[name.casefold()] for name in names
                        if name.casefold() in FONT_PACKAGES), None)
        if package is not None:
            advice = f"install {package} (apt-get install {package})"
        else:
            advice = ("no open metric-compatible font is known for it: install the font, or "
                      "choose a face listed in themes/README.md")
        messages.append(f"font '{face}' ({', '.join(where)}) is not installed, nor a "
                        f"metric-compatible equivalent; its text is {measured} and may not "
                        f"fit where '{face}' is drawn; {advice}")
    return messages


# --- colours --------------------------------------------------------------------------------


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """(r, g, b) of "#RRGGBB" (or "RRGGBB")."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of "#RRGGBB"."""
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in hex_rgb(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two "#RRGGBB" colours, from 1 to 21."""
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def mix(colour: str, other: str, share: float) -> str:
    """`colour` moved `share` (0 to 1) of the way towards `other`, as "#RRGGBB"."""
    channels = [round(a + (b - a) * share)
                for a, b in zip(hex_rgb(colour), hex_rgb(other), strict=True)]
    return "#" + "".join(f"{channel:02X}" for channel in channels)


@dataclass(frozen=True)
class ColourPair:
    """A text colour drawn on a fill, the keys that set them and the contrast it needs."""

    text_key: str
    text: str
    fill_key: str
    fill: str
    required: float
    use: str

    @property
    def ratio(self) -> float:
        """The WCAG contrast ratio of the pair."""
        return contrast_ratio(self.text, self.fill)


@dataclass(frozen=True)
class ContrastProblem:
    """A colour pair below WCAG AA, and the message that reports it."""

    pair: ColourPair
    colour_key: str
    message: str


def colour_pairs(theme: Theme) -> list[ColourPair]:
    """Every text-on-fill colour pair the theme draws, with the WCAG AA ratio it needs:
    4.5:1 for text at body and footer sizes, 3:1 for large titles and bold kickers."""
    c = theme.colors

    def pair(text_key: str, text: str, fill_key: str, fill: str, required: float,
             use: str) -> ColourPair:
        return ColourPair(text_key, text.upper(), fill_key, fill.upper(), required, use)

    background = ("colors.background", c["background"])
    callout = ("callout.fill", theme.callout_fill)
    return [
        pair("colors.text", c["text"], *background, AA_TEXT, "body text"),
        pair("colors.muted", c["muted"], *background, AA_TEXT, "the footer"),
        pair("colors.accent", c["accent"], *background, AA_LARGE,
             "bold kickers, bullets and rules"),
        pair("colors.accent_dark", c["accent_dark"], *background, AA_LARGE,
             "timeline labels (large bold text)"),
        pair("colors.link", c["link"], *background, AA_TEXT, "links"),
        pair("inline_code.color", theme.inline_code_color, *background, AA_TEXT, "inline code"),
        pair("callout.text", theme.callout_text, *callout, AA_TEXT, "callout text"),
        pair("inline_code.color", theme.inline_code_color, *callout, AA_TEXT,
             "inline code in callouts"),
        pair("colors.link", c["link"], *callout, AA_TEXT, "links in callouts"),
        pair("colors.code_text", c["code_text"], "colors.code_fill", c["code_fill"], AA_TEXT,
             "code"),
        pair("colors.title_text", c["title_text"], "colors.title_fill", c["title_fill"],
             AA_LARGE, "the title slide (large text)"),
        pair("colors.muted", c["muted"], "colors.surface", c["surface"], AA_TEXT,
             "missing-picture labels"),
        pair("table.header_text", theme.table_header_text, "table.header_fill",
             theme.table_header_fill, AA_TEXT, "table headers"),
        pair("colors.text", c["text"], "table.band_fill", theme.table_band_fill, AA_TEXT,
             "banded table rows"),
        pair("section_slide.text", theme.section_text, "section_slide.fill",
             theme.section_fill, AA_LARGE, "section titles (large text)"),
        pair("colors.muted", c["muted"], "section_slide.fill", theme.section_fill, AA_TEXT,
             "the footer of section slides"),
    ]


def contrast_problems(theme: Theme) -> list[ContrastProblem]:
    """The colour pairs below WCAG AA, each once, as warnings naming both keys, the ratio
    and the ratio required."""
    problems = []
    seen = set()
    for pair in colour_pairs(theme):
        key = (pair.text_key, pair.text, pair.fill, pair.required)
        if pair.ratio >= pair.required or key in seen:
            continue
        seen.add(key)
        source = " (from the template)" if theme.template is not None else ""
        problems.append(ContrastProblem(
            pair, pair.text_key.removeprefix("colors."),
            f"low contrast{source}: {pair.text_key} {pair.text} on {pair.fill_key} "
            f"{pair.fill} is {pair.ratio:.2f}:1; {pair.use} needs at least "
            f"{pair.required:g}:1 (WCAG AA)"))
    return problems


def _readable(candidates: list[str], background: str, ratio: float) -> str:
    return next((colour for colour in candidates if contrast_ratio(colour, background) >= ratio),
                candidates[-1])


def template_palette(template: Template) -> dict[str, str]:
    """The theme colours a template gives: text and background from its colour scheme as
    its master maps them (tx1, bg1), accents from accent1 and accent2, links from hlink;
    where an accent would be hard to read on the background, the next readable one (the
    link colour stays hlink, which PowerPoint uses for every hyperlink)."""
    scheme = template.colours
    background, text = scheme["bg1"], scheme["tx1"]
    muted = next((mix(text, background, share) for share in (0.4, 0.3, 0.2, 0.1)
                  if contrast_ratio(mix(text, background, share), background) >= AA_TEXT),
                 text)
    accent = _readable([scheme["accent1"], scheme["tx2"], text], background, AA_TEXT)
    return {
        "background": background, "text": text, "muted": muted, "accent": accent,
        "accent_dark": _readable([scheme["tx2"], accent, text], background, AA_TEXT),
        "secondary": scheme["accent2"], "surface": mix(background, text, 0.06),
        "rule": mix(background, text, 0.2),
        "link": scheme["hlink"],  # PowerPoint draws hyperlinks in it, whatever the run says
        "callout_fill": mix(background, accent, 0.1), "callout_bar": accent,
        "code_fill": mix(background, text, 0.06), "code_text": text,
        "title_fill": background, "title_text": text,
    }

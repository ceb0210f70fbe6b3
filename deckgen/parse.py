"""Markdown (CommonMark, tables, strikethrough, front matter) to document blocks."""

from __future__ import annotations

import codecs
import functools
import itertools
import re
import urllib.parse
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import yaml
from markdown_it import MarkdownIt, helpers
from markdown_it.parser_block import ParserBlock
from markdown_it.parser_inline import ParserInline
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from deckgen.errors import DeckgenError, Diagnostic, Diagnostics
from deckgen.model import (
    Block,
    Code,
    Document,
    Heading,
    Image,
    Inline,
    ListBlock,
    ListItem,
    NotesBlock,
    Paragraph,
    Quote,
    Span,
    Table,
    ThematicBreak,
    clickable,
    reaches_out,
)

#: Inline HTML tags that change formatting: tag -> Span attribute it switches on.
FORMAT_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "s": "strike", "del": "strike", "strike": "strike", "code": "code", "kbd": "code",
}
#: Tags whose markup is dropped silently because their text (if any) is kept.
WRAPPER_TAGS = {
    "p", "div", "center", "span", "br", "img", "a", "u", "mark", "sub", "sup", "small",
    "figure", "picture", "source", "section", "hr",
}
NOTES_COMMENT = re.compile(r"^\s*<!--\s*notes?\s*:(?P<body>.*?)-->\s*$", re.S | re.I)
NOTE_PARAGRAPH = re.compile(r"^\s*notes?\s*:\s*", re.I)
PIXELS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(px)?\s*$", re.I)
#: Characters a deck cannot hold (XML 1.0 refuses them) or that are invisible garbage in
#: text: C0 controls but tab and newline, DEL, C1 controls, U+FFFE and U+FFFF; a terminal's
#: colour code pasted with its output ("\x1b[31m") goes whole.
CONTROL_CHARS = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")
#: Control characters that separate words, replaced by a space rather than removed.
SPACING_CONTROLS = "\x0b\x0c\r\x1c\x1d\x1e\x1f\x85"
#: How deep lists (two levels each: list and item), quotes and notes containers may nest:
#: more than CommonMark's 20 (ten nested lists), few enough that Python's recursion limit
#: is far, even for a notes comment nested inside, which starts counting again.
MAX_NESTING = 50
#: Where in markdown-it's env the lines dropped for nesting too deep are listed.
TOO_DEEP_KEY = "deckgen_too_deep"
#: How deep emphasis, strikethrough and links may nest in a line: markdown-it pairs any
#: number of `*` (250 deep took Python past its recursion limit); deeper pairs are dropped,
#: their text kept with the formatting of the 20th.
MAX_INLINE_NESTING = 20
#: The meta key of an inline token whose too deep pairs were dropped, so that it is reported.
FLATTENED_KEY = "deckgen_flattened"
#: A line that opens an ATX heading at the margin. Outside the blocks below, such a line
#: always starts a top-level block, so the note can be cut there into sections that
#: markdown-it parses on their own to the same blocks (parse_document).
SECTION_START = re.compile(r"^#{1,6}(?=[ \t]|$)", re.M)
#: The top-level blocks that go on over a heading line while they are open: a section
#: that ends in one reaching its last line may not end there.
OPEN_ENDED = frozenset(("fence", "container_notes_open", "html_block", "front_matter"))
#: The largest note read: ten times a long lecture's notes. Alone it does not bound memory:
#: a build takes 100 bytes a byte of prose but up to 2.3 KB a byte of markup as dense as a
#: table of one-letter cells (about 1.2 KB for each markdown-it token, which
#: MAX_NOTE_TOKENS bounds); the two caps together bound a build to about 1.5 GB.
MAX_NOTE_BYTES = 8 * 2**20
#: The most markdown-it tokens (each table cell, list item, emphasis, link or run of text
#: makes one to four) a note may make: a long lecture's notes make some 100,000. Counted
#: as they are made, so a note of too many is refused before they take the memory.
MAX_NOTE_TOKENS = 600_000
#: Where in markdown-it's env the tokens made so far are counted, and the 0-based line of
#: the block whose inline markup is being read.
TOKENS_KEY = "deckgen_tokens"
INLINE_LINE_KEY = "deckgen_inline_line"
#: The most steps markdown-it may take looking ahead for where the text of a link or image
#: ends (each skips one piece of markup): a long lecture's notes take some thousands. A
#: line of unclosed `![` or `[a](` makes no tokens but costs some 50 steps a character
#: (`maxNesting` deep), 75 µs a `![`: 2,000,000 of them took minutes; this many take
#: seconds. Counted per note, as they are taken.
MAX_LINK_LOOKAHEAD = 4_000_000
#: Where in markdown-it's env the steps of looking ahead are counted.
LOOKAHEAD_KEY = "deckgen_lookahead"
#: The longest front matter read, in characters: a title page's keys take a few hundred;
#: PyYAML reads some 100 KB a second, so this bounds its time too.
MAX_FRONT_MATTER = 64 * 1024
#: How deep front-matter lists and mappings may nest (each level is a call in PyYAML).
MAX_FRONT_MATTER_DEPTH = 20


class TooManyTokens(Exception):
    """A note makes more than MAX_NOTE_TOKENS tokens; `line` (0-based) is the block's that
    made one too many."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class TooMuchLookahead(TooManyTokens):
    """A note takes more than MAX_LINK_LOOKAHEAD steps looking ahead for the ends of link
    texts; `line` (0-based) is where the step too many was."""


def _count_token(env: MutableMapping[str, Any], line: Callable[[], int]) -> None:
    """Count one more token made; TooManyTokens past MAX_NOTE_TOKENS, at line()."""
    count = env[TOKENS_KEY] = env.get(TOKENS_KEY, 0) + 1
    if count > MAX_NOTE_TOKENS:
        raise TooManyTokens(line())


class _CountingStateBlock(StateBlock):
    """markdown-it's block state, counting the tokens it makes in env[TOKENS_KEY]."""

    def push(self, ttype: str, tag: str, nesting: Literal[-1, 0, 1]) -> Token:
        _count_token(self.env, self._last_line)
        return super().push(ttype, tag, nesting)

    def _last_line(self) -> int:
        """The line of the last token made that has one (a list item, a table row)."""
        return next((token.map[0] for token in reversed(self.tokens) if token.map),
                    self.line)


class _CountingStateInline(StateInline):
    """markdown-it's inline state, counting the tokens it makes in env[TOKENS_KEY]."""

    def push(self, ttype: str, tag: str, nesting: Literal[-1, 0, 1]) -> Token:
        _count_token(self.env, self._line)
        return super().push(ttype, tag, nesting)

    def pushPending(self) -> Token:
        _count_token(self.env, self._line)
        return super().pushPending()

    def _line(self) -> int:
        return int(self.env.get(INLINE_LINE_KEY, 0))


class _CountingInlineParser(ParserInline):
    """markdown-it's inline parser with a _CountingStateInline."""

    def parse(self, src: str, md: MarkdownIt, env: MutableMapping[str, Any],
              tokens: list[Token]) -> list[Token]:
        state = _CountingStateInline(src, md, env, tokens)
        if isinstance(md.helpers, _CountingHelpers):
            md.helpers.state = state
        self.tokenize(state)
        for rule in self.ruler2.getRules(""):
            rule(state)
        return state.tokens

    def skipToken(self, state: StateInline) -> None:
        """Skip one piece of markup looking ahead (for the end of a link's text), counting
        the step in env[LOOKAHEAD_KEY]: TooMuchLookahead past MAX_LINK_LOOKAHEAD."""
        _count_lookahead(state, 1)
        super().skipToken(state)


#: Where a link destination that is not in <> ends at the latest: white space or a control.
DESTINATION_END = re.compile("[\x00-\x20\x7f]")
#: Where one in <> ends at the latest.
ANGLED_DESTINATION_END = re.compile("[\n<>]")


class _CountingHelpers:
    """markdown-it's link helpers, counting the characters a link destination's or title's
    parse reads in env[LOOKAHEAD_KEY], a step each: a line of `[a](` read 33 `(` deep at
    every `[`."""

    parseLinkLabel = staticmethod(helpers.parseLinkLabel)

    def __init__(self) -> None:
        self.state: StateInline | None = None  # the inline state being parsed

    def parseLinkDestination(self, string: str, pos: int, maximum: int) -> Any:
        result = helpers.parseLinkDestination(string, pos, maximum)
        state = self.state
        if state is None or state.src is not string:  # a link reference definition
            return result
        if result.ok:
            read = result.pos - pos
        elif pos >= maximum or string[pos] == ")" or DESTINATION_END.match(string, pos):
            read = 1
        else:  # read up to where it must end at the latest (more if it went 33 `(` deep)
            end = (ANGLED_DESTINATION_END.search(string, pos + 1, maximum)
                   if string[pos] == "<" else DESTINATION_END.search(string, pos, maximum))
            read = (end.start() if end else maximum) - pos
        _count_lookahead(state, read)
        return result

    def parseLinkTitle(self, string: str, start: int, maximum: int,
                       prev_state: Any = None) -> Any:
        result = helpers.parseLinkTitle(string, start, maximum, prev_state)
        state = self.state
        if state is not None and state.src is string:  # not a link reference definition
            _count_lookahead(state, result.pos - start if result.ok else 1)
        return result


def _count_lookahead(state: StateInline, steps: int) -> None:
    """Count steps of looking ahead; TooMuchLookahead past MAX_LINK_LOOKAHEAD."""
    env = state.env
    total = env[LOOKAHEAD_KEY] = env.get(LOOKAHEAD_KEY, 0) + steps
    if total > MAX_LINK_LOOKAHEAD:
        raise TooMuchLookahead(int(env.get(INLINE_LINE_KEY, 0))
                               + state.src.count("\n", 0, state.pos))


def _inline_counting_lines(state: StateCore) -> None:
    """markdown-it's core inline rule, noting in env the line of each block whose inline
    markup is read (for the message of a note of too many tokens)."""
    for token in state.tokens:
        if token.type == "inline":
            if token.children is None:
                token.children = []
            state.env[INLINE_LINE_KEY] = token.map[0] if token.map else 0
            state.md.inline.parse(token.content, state.md, state.env, token.children)


class _DepthReportingBlockParser(ParserBlock):
    """markdown-it's block parser, which silently drops what is nested deeper than
    `maxNesting` (lists and quotes): this one lists the first such line of each place in
    env[TOO_DEEP_KEY], so that the loss is reported. Its tokens are counted (TooManyTokens
    past MAX_NOTE_TOKENS)."""

    def parse(self, src: str, md: MarkdownIt, env: MutableMapping[str, Any],
              outTokens: list[Token]) -> list[Token] | None:
        if not src:
            return None
        state = _CountingStateBlock(src, md, env, outTokens)
        self.tokenize(state, state.line, state.lineMax)
        return state.tokens

    def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:
        if state.level >= state.md.options.maxNesting:
            line = state.skipEmptyLines(startLine)
            if line < endLine and state.sCount[line] >= state.blkIndent:
                state.env.setdefault(TOO_DEEP_KEY, []).append(line)
        super().tokenize(state, startLine, endLine)


def markdown_parser() -> MarkdownIt:
    """The markdown-it parser deckgen reads notes with."""
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING})
    block = _DepthReportingBlockParser()
    block.ruler = md.block.ruler
    md.block = block
    inline = _CountingInlineParser()
    inline.ruler, inline.ruler2 = md.inline.ruler, md.inline.ruler2
    md.inline = inline
    md.core.ruler.at("inline", _inline_counting_lines)
    md.helpers = _CountingHelpers()  # type: ignore[assignment]
    md.enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(container_plugin, name="notes")
    return md


@functools.cache
def _shared_parser() -> MarkdownIt:
    """One parser for every parse of the process: building one costs as much as parsing a
    short section, and a parse keeps its state in its own env and state objects."""
    return markdown_parser()


def read_source(path: Path) -> str:
    """The text of a Markdown file, with clear errors for what is not a readable UTF-8 file."""
    if not path.exists():
        raise DeckgenError("no such file; check the path", path)
    if path.is_dir():
        raise DeckgenError("is a directory; give the Markdown file inside it", path)
    if not path.is_file():
        raise DeckgenError("is not a regular file (a pipe or device?); give a Markdown file",
                           path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_NOTE_BYTES + 1)
    except OSError as exc:
        raise DeckgenError(f"cannot be read ({exc.strerror}); check its permissions", path) \
            from exc
    if len(data) > MAX_NOTE_BYTES:
        raise DeckgenError(f"is larger than {MAX_NOTE_BYTES // 2**20} MB, more than a deck can "
                           "show; split it into several notes", path)
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise DeckgenError("is UTF-32; save it as UTF-8 and build again", path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_like_utf16(data):
        raise DeckgenError("is UTF-16; save it as UTF-8 and build again", path)
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = bom + exc.start
        line = data.count(b"\n", 0, bad) + 1
        line_start = max(bom, data.rfind(b"\n", 0, bad) + 1)
        column = len(data[line_start:bad].decode("utf-8")) + 1  # valid up to the bad byte
        raise DeckgenError(
            f"is not valid UTF-8 (byte 0x{data[bad]:02x} at column {column}, file offset "
            f"{bad}); it may be in another encoding such as CP949 (EUC-KR) or Latin-1: save "
            "it as UTF-8 and build again", path, line) from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DeckgenError("holds a NUL byte (is it really a Markdown file?); remove it and "
                           "build again", path, line)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_utf16(data: bytes) -> bool:
    """Whether bytes are UTF-16 without a byte-order mark: mostly Latin text, so a NUL in
    every other byte."""
    sample = data[:4096]
    pairs = len(sample) // 2
    return pairs >= 2 and max(sample[0::2].count(0), sample[1::2].count(0)) > pairs * 0.6


def without_controls(text: str) -> str:
    """Text without the control characters a deck cannot hold (spacing ones become a space)."""
    return CONTROL_CHARS.sub(lambda match: " " if match[0] in SPACING_CONTROLS else "", text)


def _clean_controls(path: Path, text: str, diagnostics: Diagnostics) -> str:
    """The source without control characters, with one warning naming the first one's line."""
    first = CONTROL_CHARS.search(text)
    if first is None:
        return text
    count = len(CONTROL_CHARS.findall(text))
    others = f" and {count - 1} more" if count > 1 else ""
    diagnostics.warn(f"control character U+{ord(first[0][0]):04X}{others} removed (a deck cannot "
                     "show them); delete them from the note", path,
                     text.count("\n", 0, first.start()) + 1)
    return without_controls(text)


def parse_tokens(text: str,
                 env: dict[str, Any] | None = None) -> tuple[list[Token], list[int]]:
    """markdown-it's tokens for Markdown text, with the control characters that character
    references (`&#12;`) decode to removed from every token's text and attributes; and the
    0-based lines where text nested too deep was dropped. `env` receives what markdown-it
    collects beside the tokens (link reference definitions)."""
    env = {} if env is None else env
    tokens = _shared_parser().parse(text, env)
    pending = list(tokens)
    while pending:
        token = pending.pop()
        if token.type == "inline":
            _flatten_deep_inline(token)
        if CONTROL_CHARS.search(token.content):
            token.content = without_controls(token.content)
        if CONTROL_CHARS.search(token.info):
            token.info = without_controls(token.info)
        for name, value in token.attrs.items():
            if isinstance(value, str) and CONTROL_CHARS.search(value):
                token.attrs[name] = without_controls(value)
        pending.extend(token.children or ())
    return tokens, env.get(TOO_DEEP_KEY, [])


def _flatten_deep_inline(token: Token) -> None:
    """Drop the open and close tokens nested deeper than MAX_INLINE_NESTING in an inline
    token's children (their text stays), marking the token when any was."""
    children = token.children or []
    depth = 0
    kept: list[bool] = []  # for each open pair, whether its tokens stay
    out: list[Token] = []
    breaks = 0  # line breaks before the first pair dropped: its line in the token's
    first_dropped: int | None = None
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            breaks += 1
        if child.nesting == 1:
            keep = depth < MAX_INLINE_NESTING
            kept.append(keep)
            if not keep and first_dropped is None:
                first_dropped = breaks
            if keep:
                depth += 1
                out.append(child)
        elif child.nesting == -1:
            if kept.pop() if kept else True:
                depth -= 1
                out.append(child)
        else:
            out.append(child)
    if len(out) < len(children):
        token.children = out
        token.meta = {**(token.meta or {}), FLATTENED_KEY: first_dropped or 0}


def too_many_tokens(path: Path, line: int,
                    exc: TooManyTokens | None = None) -> DeckgenError:
    """The error of a note of more than MAX_NOTE_TOKENS tokens (or, for a TooMuchLookahead,
    of too much looking ahead), at a 1-based line."""
    if isinstance(exc, TooMuchLookahead):
        return DeckgenError(f"the note has more than {MAX_LINK_LOOKAHEAD:,} steps of looking "
                            "for the ends of links and images (runs of unclosed `[`, `![` or "
                            "`[a](`); escape the brackets (`\\[`) or split it into several "
                            "notes", path, line)
    return DeckgenError(f"the note has more than {MAX_NOTE_TOKENS:,} pieces of markup (table "
                        "cells, list items, emphasis, links, runs of text), more than a deck "
                        "can show; split it into several notes", path, line)


def _warn_too_deep(lines: list[int], path: Path, offset: int,
                   diagnostics: Diagnostics) -> None:
    """One warning, at the first place where markdown-it dropped text nested too deep."""
    if lines:
        places = f" (and {len(lines) - 1} more place(s))" if len(lines) > 1 else ""
        diagnostics.warn(f"lists and quotes nested too deeply: text from here{places} is "
                         "dropped, and in a list what follows it too; nest less deeply",
                         path, min(lines) + 1 + offset)


@dataclass(frozen=True)
class ParsedSection:
    """A stretch of the note parsed on its own: its front matter (the first section's),
    blocks and diagnostics, and whether its last block may go on past its end."""

    front_matter: dict[str, object] | None
    blocks: tuple[Block, ...]
    diagnostics: tuple[Diagnostic, ...]
    open_ended: bool
    #: The steps its parse took looking ahead for the ends of links (MAX_LINK_LOOKAHEAD).
    lookahead: int = 0


class _NeedsWholeNote(Exception):
    """A section holds what makes the sections of a note depend on each other: a link
    reference definition (it applies to the whole note) or nesting too deep (markdown-it
    drops the rest of the note)."""


#: A section's key: the note and the section's text.
SectionKey = tuple[Path, str]
#: A section as parsed: its first line (0-based) in the note, and what it was parsed to.
Placed = tuple[int, ParsedSection]

#: The sections the last build parsed, while a long-running process keeps them
#: (keep_between_builds); each build replaces them with its own.
_kept_sections: dict[SectionKey, Placed] | None = None


def keep_between_builds(keep: bool = True) -> None:
    """Start (or stop) keeping each build's parsed sections for the next build, which
    parses again only the sections whose text changed (`build --watch`)."""
    global _kept_sections
    _kept_sections = {} if keep else None


def parse_document(path: Path, text: str, diagnostics: Diagnostics) -> Document:
    """Parse Markdown text into a Document of blocks, reporting problems with file:line.
    While sections are kept between builds, the note is parsed section by section (to the
    same blocks), and only the sections that changed since the last build are parsed."""
    global _kept_sections
    text = _clean_controls(path, text, diagnostics)
    kept = _kept_sections
    if kept is None:  # parsing in sections costs a fifth more when nothing is reused
        return _parse_whole(path, text, diagnostics)
    try:
        sections = _parse_sections(path, text, kept)
    except (_NeedsWholeNote, DeckgenError):  # a YAML error is reported as it always was
        return _parse_whole(path, text, diagnostics)
    _kept_sections = dict(sections)
    blocks: list[Block] = []
    for _, (_, section) in sections:
        diagnostics.items.extend(section.diagnostics)
        blocks.extend(section.blocks)
    front_matter = sections[0][1][1].front_matter if sections else None
    return Document(path, front_matter or {}, tuple(blocks))


def _parse_sections(path: Path, text: str, known: dict[SectionKey, Placed]
                    ) -> list[tuple[SectionKey, Placed]]:
    """The note cut at headings into sections, each parsed on its own (or found in
    `known`, moved to its line). Where a section's last block may go on past its end (an
    open fence), the section is parsed again with the next ones, twice as many each time,
    until it ends cleanly: markdown-it then makes the same blocks of it as of the whole
    note."""
    cuts = [0, *(match.start() for match in SECTION_START.finditer(text) if match.start()),
            len(text)]
    lines = [0]
    for before, after in itertools.pairwise(cuts[:-1]):
        lines.append(lines[-1] + text.count("\n", before, after))
    sections: list[tuple[SectionKey, Placed]] = []
    lookahead = 0  # the steps of the sections parsed, counted against the cap together
    first, last = 0, len(cuts) - 1
    while first < last:
        step = 1
        while True:
            end = min(first + step, last)
            key = (path, text[cuts[first]:cuts[end]])
            line, section = known.get(key) or (lines[first], None)
            if section is None or (section.open_ended and end < last):
                line, section = lines[first], _parse_section(path, key[1], lines[first],
                                                            may_end_open=end == last)
                lookahead += section.lookahead if section is not None else 0
                if lookahead > MAX_LINK_LOOKAHEAD:
                    raise _NeedsWholeNote  # the whole note's parse reports it
            if section is not None:
                break
            step *= 2
        if line != lines[first]:  # the same text further up or down the note
            section = _moved_section(section, lines[first] - line)
        sections.append((key, (lines[first], section)))
        first = end
    return sections


def _moved_section(section: ParsedSection, lines: int) -> ParsedSection:
    """A section as parsed `lines` further down the note: its blocks and diagnostics with
    their lines moved (parsing it again would only add `lines` to each)."""
    return replace(section, blocks=tuple(_moved(block, lines) for block in section.blocks),
                   diagnostics=tuple(replace(item, line=item.line + lines) if item.line
                                     else item for item in section.diagnostics))


def _moved(block: Block, lines: int) -> Block:
    """A block, and every block and line it holds, `lines` further down the note (a line
    of 0, unknown, stays 0)."""
    line = block.line + lines if block.line else 0
    if isinstance(block, ListBlock):
        return replace(block, line=line, items=tuple(
            ListItem(tuple(_moved(child, lines) for child in item.blocks),
                     item.line + lines if item.line else 0) for item in block.items))
    if isinstance(block, Quote | NotesBlock):
        return replace(block, line=line,
                       blocks=tuple(_moved(child, lines) for child in block.blocks))
    return replace(block, line=line)


def _parse_section(path: Path, text: str, first_line: int,
                   may_end_open: bool) -> ParsedSection | None:
    """A section parsed as if it were the whole note, its lines counted from `first_line`
    (0-based); None when its last block may go on past its end and it is not the last."""
    env: dict[str, Any] = {}
    try:
        tokens, too_deep = parse_tokens(text, env)
    except TooManyTokens:
        raise _NeedsWholeNote from None  # the whole note's parse reports it
    if too_deep or env.get("references"):
        raise _NeedsWholeNote
    last_block = next((token for token in reversed(tokens)
                       if token.level == 0 and token.map is not None), None)
    open_ended = last_block is not None and last_block.type in OPEN_ENDED and \
        last_block.map is not None and last_block.map[1] >= text.count("\n")
    # Front matter not closed within the section may be closed further on. The plugin
    # looks for it on the note's first line also inside a list, where it takes the two
    # characters after the item's first for the rest of the marker ("- x--"): a note that
    # starts with "-" and has "--" on its first line may hold some.
    open_ended |= text.startswith("-") and "--" in text.partition("\n")[0] and \
        not any(token.type == "front_matter" for token in tokens)
    if open_ended and not may_end_open:
        return None
    diagnostics = Diagnostics()
    reader = _BlockReader(path, diagnostics, first_line)
    reader.tokens = env.get(TOKENS_KEY, 0)
    reader.lookahead = env.get(LOOKAHEAD_KEY, 0)
    front_matter: dict[str, object] | None = None
    blocks: list[Block] = []
    for node in SyntaxTreeNode(tokens).children:
        if node.type == "front_matter":
            front_matter = _front_matter(node, path, diagnostics)
        else:
            blocks.extend(reader.blocks(node))
    return ParsedSection(front_matter, tuple(_explicit_note_paragraphs(blocks)),
                         tuple(diagnostics.items), open_ended, reader.lookahead)


def _parse_whole(path: Path, text: str, diagnostics: Diagnostics) -> Document:
    """The note parsed in one piece (when nothing is kept between builds, or when its
    sections depend on each other)."""
    env: dict[str, Any] = {}
    try:
        tokens, too_deep = parse_tokens(text, env)
    except TooManyTokens as exc:
        raise too_many_tokens(path, exc.line + 1, exc) from None
    _warn_too_deep(too_deep, path, 0, diagnostics)
    reader = _BlockReader(path, diagnostics)
    reader.tokens = env.get(TOKENS_KEY, 0)
    reader.lookahead = env.get(LOOKAHEAD_KEY, 0)
    front_matter: dict[str, object] = {}
    blocks: list[Block] = []
    for node in _top_level_nodes(tokens):
        if node.type == "front_matter":
            front_matter = _front_matter(node, path, diagnostics)
        else:
            blocks.extend(reader.blocks(node))
    return Document(path, front_matter, tuple(_explicit_note_paragraphs(blocks)))


def _top_level_nodes(tokens: list[Token]) -> Iterator[SyntaxTreeNode]:
    """The syntax tree's top-level nodes, each built from its own tokens when it is asked
    for, the tokens let go of as they are (`tokens` is emptied): the tree of a whole note
    held as much memory again as its tokens (130 MB for 100,000 headings)."""
    pending = tokens[::-1]
    tokens.clear()
    while pending:
        group = [pending.pop()]
        nesting: int = group[0].nesting
        while nesting > 0 and pending:
            group.append(pending.pop())
            nesting += group[-1].nesting
        yield from SyntaxTreeNode(group).children


def front_matter_line(text: str, key: str) -> int:
    """The line of a top-level key of the front matter, for messages (1 if not found)."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return 1
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() in ("---", "..."):
            break
        if re.match(rf"{re.escape(key)}\s*:", line):
            return number
    return 1


def _front_matter(node: SyntaxTreeNode, path: Path,
                  diagnostics: Diagnostics) -> dict[str, object]:
    if len(node.content) > MAX_FRONT_MATTER or \
            len(node.content.encode("utf-8")) > MAX_FRONT_MATTER:
        raise DeckgenError(f"front matter is longer than {MAX_FRONT_MATTER // 1024} KB; keep "
                           "the title page's keys there and put the rest in the note", path, 1)
    loader = _FrontMatterLoader(node.content)
    try:
        data = loader.get_single_data()
    except _FrontMatterRefused as exc:
        raise DeckgenError(exc.message, path, exc.line + 2) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise DeckgenError(f"front matter is not valid YAML ({getattr(exc, 'problem', exc)}); "
                           "fix it between the --- lines: quote a value that holds ': ' or "
                           "starts with [, {, *, & or !", path, line) from exc
    finally:
        loader.dispose()
    for line, message in sorted(loader.problems, key=lambda problem: problem[0]):
        diagnostics.warn(f"front matter {message}", path, line + 2)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DeckgenError("front matter must be a mapping of keys (title: ..., author: ...)",
                           path, 1)
    return {without_controls(str(key)): _yaml_without_controls(value)
            for key, value in data.items()}


class _FrontMatterRefused(Exception):
    """What the front matter may not hold, at a 0-based line of the front matter."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's safe loader without what lets a few bytes cost minutes and gigabytes:
    aliases (`*a` repeats all that `&a` names, so nine lists of nine aliases of nine… grow
    to billions of values) and nesting deeper than MAX_FRONT_MATTER_DEPTH (each level is a
    Python call). A date or number that Python cannot hold (2024-13-45) stays text, listed
    with a warning in `problems`, as does any value its explicit tag (`!!float abc`) does not
    fit; a value that is not text, a number, a date or a list of them (`!!binary`, `!!set`)
    is dropped with a warning, and so is a key given twice (but for its last value)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        #: (0-based line, what is wrong) of each value kept as text, dropped or repeated.
        self.problems: list[tuple[int, str]] = []

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent):
            raise _FrontMatterRefused("front matter uses YAML aliases (&/*); write the values "
                                      "out", line)
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)  # a scalar: no level of its own
        if self.depth >= MAX_FRONT_MATTER_DEPTH:
            raise _FrontMatterRefused(f"front matter nests deeper than "
                                      f"{MAX_FRONT_MATTER_DEPTH} levels; flatten it", line)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """The value of a node; a scalar its explicit tag does not fit (`!!bool maybe`,
        `!!timestamp ""`) as text, and a value of no kind a title page shows (`!!binary`,
        `!!set`) as nothing, each with a warning."""
        line = node.start_mark.line if node.start_mark is not None else 0
        tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
        try:
            value = super().construct_object(node, deep=True)  # its errors raised here
        except (yaml.YAMLError, _FrontMatterRefused):
            raise
        except Exception:  # PyYAML's constructors raise what they meet: ValueError, ...
            if not isinstance(node, yaml.ScalarNode):
                raise _FrontMatterRefused(f"front matter value is not a valid {tag}; remove "
                                          "the tag or fix the value", line) from None
            self.recursive_objects.pop(node, None)
            value = self.constructed_objects[node] = self._kept_as_text(node, tag)
        if isinstance(value, bytes | set | frozenset):
            self.problems.append((line, f"value tagged {tag} is not text; ignored"))
            return None
        return value

    def construct_mapping(self, node: yaml.MappingNode,
                          deep: bool = False) -> dict[Any, Any]:
        """The mapping, noting each key given again (PyYAML keeps the last value)."""
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    line = key_node.start_mark.line if key_node.start_mark else 0
                    self.problems.append((line, f"key {_shown(key_node.value)} is given again; "
                                                "this value replaces the first"))
                seen.add(key_node.value)
        return super().construct_mapping(node, deep)

    def construct_yaml_timestamp(  # type: ignore[override]  # or the text
            self, node: yaml.ScalarNode) -> date | str:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self._kept_as_text(node, "date")

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:  # type: ignore[override]
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (4,300)
            return self._kept_as_text(node, "number")

    def _kept_as_text(self, node: yaml.ScalarNode, what: str) -> str:
        value = str(self.construct_scalar(node))
        self.problems.append((node.start_mark.line if node.start_mark else 0,
                              f"value {_shown(value)} is not a valid {what}; kept as text"))
        return value


def _shown(value: str) -> str:
    """A front-matter value as a warning quotes it: its first 40 characters, then "…"."""
    return repr(value[:40] + "…" if len(value) > 40 else value)


# The loader's own constructors (PyYAML copies its table for the subclass on the first one).
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                   _FrontMatterLoader.construct_yaml_timestamp)
_FrontMatterLoader.add_constructor("tag:yaml.org,2002:int", _FrontMatterLoader.construct_yaml_int)


def _yaml_without_controls(value: object) -> object:
    """A front-matter value with control characters (YAML's "\\e", "\\x01") removed from its
    strings."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, list):
        return [_yaml_without_controls(item) for item in value]
    if isinstance(value, dict):
        return {key: _yaml_without_controls(item) for key, item in value.items()}
    return value


def _explicit_note_paragraphs(blocks: list[Block]) -> Iterator[Block]:
    """Turn a reveal.js `Note:` paragraph and all that follows it, up to the next heading or
    rule, into a NotesBlock."""
    index = 0
    while index < len(blocks):
        block = blocks[index]
        if isinstance(block, Paragraph) and block.spans and not block.spans[0].code \
                and NOTE_PARAGRAPH.match(block.spans[0].text):
            first = Span(NOTE_PARAGRAPH.sub("", block.spans[0].text, count=1),
                         block.spans[0].bold, block.spans[0].italic)
            note_blocks: list[Block] = [Paragraph((first, *block.spans[1:]), block.line)]
            index += 1
            while index < len(blocks) and not isinstance(blocks[index],
                                                          Heading | ThematicBreak):
                note_blocks.append(blocks[index])
                index += 1
            yield NotesBlock(tuple(note_blocks), block.line)
            continue
        yield block
        index += 1


class _BlockReader:
    """Converts markdown-it syntax-tree nodes into model blocks."""

    def __init__(self, path: Path, diagnostics: Diagnostics, line_offset: int = 0) -> None:
        self.path = path
        self.diagnostics = diagnostics
        self.line_offset = line_offset
        self.tokens = 0  # made so far by the note's markdown, counted against the cap
        self.lookahead = 0  # steps taken so far looking for the ends of links, likewise

    def blocks(self, node: SyntaxTreeNode) -> list[Block]:
        """The model blocks for one syntax-tree node."""
        line = node.map[0] + 1 + self.line_offset if node.map else 0
        kind = node.type
        if kind == "heading":
            level = int(node.tag[1])
            spans, images = self.inline(node.children[0], line)
            return [Heading(level, spans, line), *images]
        if kind == "paragraph":
            spans, images = self.inline(node.children[0], line)
            out: list[Block] = []
            if "".join(s.text for s in spans).strip():
                out.append(Paragraph(spans, line))
            return [*out, *images]
        if kind in ("bullet_list", "ordered_list"):
            items = tuple(ListItem(self.children(item),
                                   item.map[0] + 1 + self.line_offset if item.map else line)
                          for item in node.children)
            start = int(str(node.attrs.get("start", 1)))
            return [ListBlock(items, kind == "ordered_list", start, line)]
        if kind == "blockquote":
            return [Quote(self.children(node), line)]
        if kind in ("fence", "code_block"):
            return [Code(node.content.rstrip("\n"), (node.info or "").strip(), line)]
        if kind == "hr":
            return [ThematicBreak(line)]
        if kind == "table":
            return [self.table(node, line)]
        if kind == "container_notes":
            return [NotesBlock(self.children(node), line)]
        if kind == "html_block":
            return self.html_block(node.content, line)
        self.diagnostics.warn(f"unsupported Markdown element '{kind}' dropped", self.path, line)
        return []

    def children(self, node: SyntaxTreeNode) -> tuple[Block, ...]:
        """The model blocks of a node's children, in order."""
        return tuple(block for child in node.children for block in self.blocks(child))

    def table(self, node: SyntaxTreeNode, line: int) -> Table:
        """A pipe table with its header, rows and column alignments."""
        header: tuple[Inline, ...] = ()
        rows: list[tuple[Inline, ...]] = []
        aligns: tuple[str, ...] = ()
        for section in node.children:
            for row in section.children:
                row_line = row.map[0] + 1 + self.line_offset if row.map else line
                cells = tuple(self.inline(cell.children[0], row_line)[0] if cell.children
                              else () for cell in row.children)
                if section.type == "thead":
                    header = cells
                    aligns = tuple(_cell_align(cell) for cell in row.children)
                else:
                    rows.append(cells)
        return Table(header, tuple(rows), aligns, line)

    def html_block(self, html: str, line: int) -> list[Block]:
        """Images and notes from a raw HTML block; anything else is dropped with a warning."""
        stripped = html.strip()
        if stripped.startswith("<!--"):
            match = NOTES_COMMENT.match(stripped)
            if match:
                body = match["body"]
                leading = body[: len(body) - len(body.lstrip())]
                offset = line - 1 + stripped[: match.start("body")].count("\n") \
                    + leading.count("\n")
                inner = _BlockReader(self.path, self.diagnostics, offset)
                env: dict[str, Any] = {TOKENS_KEY: self.tokens,
                                       LOOKAHEAD_KEY: self.lookahead}
                try:
                    tokens, too_deep = parse_tokens(body.strip(), env)
                except TooManyTokens as exc:
                    raise too_many_tokens(self.path, exc.line + 1 + offset, exc) from None
                self.tokens = env[TOKENS_KEY]
                self.lookahead = env.get(LOOKAHEAD_KEY, 0)
                _warn_too_deep(too_deep, self.path, offset, self.diagnostics)
                tree = SyntaxTreeNode(tokens)
                return [NotesBlock(tuple(b for child in tree.children
                                         for b in inner.blocks(child)), line)]
            return []
        scan = _HtmlScan().scan(html)
        images = [image for attrs in scan.images
                  if (image := self._image_from_attrs(attrs, line)) is not None]
        unknown = sorted(scan.unknown_tags)
        if unknown or scan.text.strip():
            what = ", ".join(f"<{tag}>" for tag in unknown) or "raw HTML text"
            self.diagnostics.warn(f"unsupported HTML {what} dropped; write it as Markdown",
                                  self.path, line)
        return list(images)

    def inline(self, node: SyntaxTreeNode, line: int) -> tuple[Inline, list[Image]]:
        """The spans of an inline node, and the images found among them (taken out)."""
        if node.meta and FLATTENED_KEY in node.meta:
            self.diagnostics.warn(f"emphasis or links nested more than {MAX_INLINE_NESTING} "
                                  "deep: the deeper formatting is dropped, the text kept; nest "
                                  "less deeply", self.path, line + node.meta[FLATTENED_KEY])
        builder = _InlineBuilder(self, line)
        builder.walk(node.children, {})
        return builder.result()

    def _image_from_attrs(self, attrs: dict[str, str], line: int) -> Image | None:
        attrs = {name: without_controls(value) for name, value in attrs.items()}
        src = attrs.get("src", "").strip()
        if not src:
            self.diagnostics.warn("<img> without src dropped; give it a src=\"path\"",
                                  self.path, line)
            return None
        return Image(src=src, alt=attrs.get("alt", "").strip(), line=line,
                     title=attrs.get("title", "").strip(),
                     width_px=self._pixels(attrs.get("width"), "width", line),
                     height_px=self._pixels(attrs.get("height"), "height", line))

    def _pixels(self, value: str | None, name: str, line: int) -> float | None:
        if value is None:
            return None
        match = PIXELS.match(value)
        if match is None or float(match[1]) <= 0:
            self.diagnostics.warn(f"<img {name}=\"{value}\"> is not a size in pixels; ignored",
                                  self.path, line)
            return None
        return float(match[1])


class _InlineBuilder:
    """Flattens markdown-it inline nodes into formatted spans."""

    def __init__(self, reader: _BlockReader, line: int) -> None:
        self.reader = reader
        self.line = line
        self.spans: list[Span] = []
        self.images: list[Image] = []
        self.html_format: dict[str, bool] = {}

    def result(self) -> tuple[Inline, list[Image]]:
        merged: list[Span] = []
        for span in self.spans:
            if merged and _same_format(merged[-1], span):
                merged[-1] = Span(merged[-1].text + span.text, span.bold, span.italic,
                                  span.strike, span.code, span.link, span.address)
            elif span.text:
                merged.append(span)
        return _strip_spans(merged), self.images

    def add(self, text: str, fmt: dict[str, Any]) -> None:
        attrs = {**fmt, **{k: v for k, v in self.html_format.items() if v}}
        self.spans.append(Span(text, bool(attrs.get("bold")), bool(attrs.get("italic")),
                               bool(attrs.get("strike")), bool(attrs.get("code")),
                               attrs.get("link"), attrs.get("address")))

    def walk(self, nodes: list[SyntaxTreeNode], fmt: dict[str, Any]) -> None:
        for node in nodes:
            kind = node.type
            if kind == "text":
                self.add(node.content, fmt)
            elif kind == "softbreak":
                self.add(" ", fmt)
                self.line += 1
            elif kind == "hardbreak":
                self.add("\n", fmt)
                self.line += 1
            elif kind == "code_inline":
                self.add(node.content, {**fmt, "code": True})
            elif kind == "em":
                self.walk(node.children, {**fmt, "italic": True})
            elif kind == "strong":
                self.walk(node.children, {**fmt, "bold": True})
            elif kind == "s":
                self.walk(node.children, {**fmt, "strike": True})
            elif kind == "link":
                address = str(node.attrs.get("href", ""))
                link = self.link(address, node)
                self.walk(node.children, {**fmt, "link": link,
                                          "address": address if link is None else None})
            elif kind == "image":
                alt = "".join(child.content for child in node.children)
                self.images.append(Image(str(node.attrs.get("src", "")), alt, self.line,
                                         str(node.attrs.get("title", "") or "")))
            elif kind == "html_inline":
                self.html(node.content, fmt)
            else:
                self.walk(node.children, fmt)

    def link(self, address: str, node: SyntaxTreeNode) -> str | None:
        """A link's address, or None (its text stays plain) for one that could open a
        share, a file or a program when clicked (model.clickable), or that is empty."""
        if clickable(address):
            return address
        if not address.strip():
            text = "".join(child.content for child in node.walk() if child.type == "text")
            self.reader.diagnostics.warn(f"link {text[:80]!r} has no address; its text is kept "
                                         "as plain text", self.reader.path, self.line)
            return None
        if not reaches_out(address):
            return None  # a heading of the note (#…) or a file beside it: quietly plain
        written = urllib.parse.unquote(address)
        shown = written if len(written) <= 80 else written[:79] + "…"
        self.reader.diagnostics.warn(f"link to {shown!r} kept as plain text: only http, https "
                                     "and mailto links are clickable in a deck",
                                     self.reader.path, self.line)
        return None

    def html(self, html: str, fmt: dict[str, Any]) -> None:
        if html.startswith("<!--"):
            return
        match = re.match(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9]*)", html)
        if match is None:
            self.reader.diagnostics.warn(f"unsupported HTML {html!r} dropped",
                                         self.reader.path, self.line)
            return
        closing, tag = match[1] == "/", match[2].lower()
        if tag == "br":
            self.add("\n", fmt)
        elif tag == "img":
            scan = _HtmlScan().scan(html)
            self.images.extend(image for attrs in scan.images
                               if (image := self.reader._image_from_attrs(attrs, self.line))
                               is not None)
        elif tag in FORMAT_TAGS:
            self.html_format[FORMAT_TAGS[tag]] = not closing
        elif tag not in WRAPPER_TAGS and not closing:
            self.reader.diagnostics.warn(f"unsupported HTML <{tag}> dropped; write it as "
                                         "Markdown", self.reader.path, self.line)


def _same_format(a: Span, b: Span) -> bool:
    return (a.bold, a.italic, a.strike, a.code, a.link, a.address) == (
        b.bold, b.italic, b.strike, b.code, b.link, b.address)


def _strip_spans(spans: list[Span]) -> Inline:
    """Spans without leading or trailing white space (images taken out leave some)."""
    while spans and not spans[0].text.strip():
        spans.pop(0)
    while spans and not spans[-1].text.strip():
        spans.pop()
    if spans:
        first, last = spans[0], spans[-1]
        spans[0] = Span(first.text.lstrip(" \n"), first.bold, first.italic, first.strike,
                        first.code, first.link, first.address)
        last = spans[-1]
        spans[-1] = Span(last.text.rstrip(" \n"), last.bold, last.italic, last.strike,
                         last.code, last.link, last.address)
    return tuple(spans)


def _cell_align(cell: SyntaxTreeNode) -> str:
    style = str(cell.attrs.get("style", ""))
    for align in ("left", "center", "right"):
        if align in style:
            return align
    return ""


class _HtmlScan(HTMLParser):
    """Collects <img> attributes, unknown tags and stray text of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[dict[str, str]] = []
        self.unknown_tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append({k.lower(): (v or "") for k, v in attrs})
        elif tag not in WRAPPER_TAGS and tag not in FORMAT_TAGS:
            self.unknown_tags.add(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text += data

    def scan(self, html: str) -> _HtmlScan:
        """Read a piece of HTML; what Python's parser cannot read (it asserts on a marked
        section such as `<![--`) counts as raw text, so it is dropped with a warning."""
        try:
            self.feed(html)
            self.close()
        except AssertionError:
            self.text += html
        return self

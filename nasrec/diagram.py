"""Architecture -> SVG: a network's blocks as boxes, its connections as arcs. A pure function.

    svg = architecture_svg(candidate.architecture, title="trial 12")

Layout, top to bottom: the raw inputs (candidate 0), block 0 .. block n-1, the head. Every box
shows its ops with their widths (dense width D, sparse tokens T), merge flags (FM, DS) and, in its
heading, its co-design knobs (``W4A8 dpe``) when it has any. Dense
connections are arcs on the left of the boxes (``left`` / ``right`` operands of gating, sum, cross are
labelled L / R), sparse connections arcs on the right. What cannot reach the head (per-stream
liveness, ``nasrec.space.liveness``) is grey: dead blocks, unused ops and their inputs; pruned
blocks of a canonical form (``null``) are grey boxes without connections.

Every piece of text from the architecture is escaped; nothing from it becomes markup. Elements
carry classes (``block live`` / ``block dead``, ``edge dense|sparse|left|right``, ``inactive``) and
``data-*`` attributes so programs (and tests) can read the drawing back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from nasrec.space.architecture import BINARY_OPS, Architecture, Block
from nasrec.space.liveness import DEAD, BlockLiveness

__all__ = ["architecture_svg"]

BOX_W, BOX_H, GAP = 300, 64, 30
ARC_STEP = 13  # how much further out an arc bulges per block it spans
COLORS = {"dense": "#1f6feb", "sparse": "#d9822b", "left": "#8250df", "right": "#8250df"}
GREY, DARK = "#b4b9c0", "#24292f"
MAX_TEXT = 40


@dataclass(frozen=True)
class _Edge:
    kind: str  # dense | sparse | left | right
    source: int  # node index: 0 = inputs, j + 1 = block j, n + 1 = head
    target: int
    live: bool


def architecture_svg(architecture: Architecture | Mapping[str, Any], *, title: str | None = None) -> str:
    """The drawing of ``architecture`` (an Architecture or its JSON object) as an SVG document.

    A JSON object is parsed and checked (``Architecture.from_dict``: ConfigError naming the block and
    the gene); an Architecture is drawn as given (check it with ``validate()`` first if it was not
    built by code). Text from it is escaped either way.
    """
    if isinstance(architecture, Architecture):
        arch = architecture
    else:
        arch = Architecture.from_dict(
            dict(architecture) if isinstance(architecture, Mapping) else architecture
        )
    live = arch.liveness()
    n = arch.num_blocks
    margin_left = margin_right = 40 + ARC_STEP * (n + 1)
    width = margin_left + BOX_W + margin_right
    height = 40 + (n + 2) * (BOX_H + GAP) + 30
    edges = _edges(arch.blocks, live)
    label = title if title is not None else f"architecture with {n} blocks"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(label)}" '
        f'font-family="sans-serif" font-size="12" data-blocks="{n}" data-alive="{len(arch.alive_blocks())}">',
        f"<title>{_esc(label)}</title>",
        _defs(),
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    parts += [_edge_svg(e, margin_left) for e in edges]
    parts.append(_node(0, margin_left, "inputs", ["dense features", "sparse features (embedded)"], True))
    for i, (block, block_live) in enumerate(zip(arch.blocks, live, strict=True)):
        parts.append(_block_svg(i, block, block_live, margin_left))
    parts.append(_node(n + 1, margin_left, "head", ["logit from the last block's outputs"], True))
    parts.append(_legend(height - 22, margin_left))
    parts.append("</svg>")
    return "\n".join(parts)


# ---- what to draw -----------------------------------------------------------------------------------


def _edges(blocks: tuple[Block | None, ...], live: tuple[BlockLiveness, ...]) -> list[_Edge]:
    edges: list[_Edge] = []
    for i, block in enumerate(blocks):
        if block is None:
            continue
        target, state = i + 1, live[i]
        if block.dense_op in BINARY_OPS:
            for kind in ("left", "right"):
                source = getattr(block, kind)
                if source is not None:
                    edges.append(_Edge(kind, source, target, state.dense_op))
        elif block.dense_op is not None:
            edges += [_Edge("dense", j, target, state.dense_op) for j in block.dense_inputs or ()]
        reads_sparse = block.sparse_op is not None or block.dense_op == "dot"
        if reads_sparse:
            sparse_live = state.sparse_op or (block.dense_op == "dot" and state.dense_op)
            edges += [_Edge("sparse", j, target, sparse_live) for j in block.sparse_inputs or ()]
    n = len(blocks)
    if n:
        edges += [_Edge("dense", n, n + 1, True), _Edge("sparse", n, n + 1, True)]
    else:
        edges += [_Edge("dense", 0, 1, True), _Edge("sparse", 0, 1, True)]
    edges.sort(key=lambda e: e.live)  # live arcs are drawn over inactive ones
    return edges


def _block_lines(block: Block, live: BlockLiveness) -> list[tuple[str, bool]]:
    """The text lines of a block box and whether each is live."""
    lines: list[tuple[str, bool]] = []
    if block.dense_op is not None:
        width = f" · D={block.dense_width}" if block.dense_width is not None else ""
        lines.append((f"dense: {_clip(block.dense_op)}{width}", live.dense_op))
    else:
        lines.append(("dense: none", False))
    if block.sparse_op is not None:
        tokens = f" · T={block.sparse_width}" if block.sparse_width is not None else ""
        lines.append((f"sparse: {_clip(block.sparse_op)}{tokens}", live.sparse_op))
    else:
        lines.append(("sparse: none", False))
    return lines


# ---- SVG pieces -------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    return escape(str(text), quote=True)


def _clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _top(node: int) -> int:
    return 40 + node * (BOX_H + GAP)


def _defs() -> str:
    markers = [
        f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        for name, color in (
            ("dense", COLORS["dense"]),
            ("sparse", COLORS["sparse"]),
            ("binary", COLORS["left"]),
            ("inactive", GREY),
        )
    ]
    return "<defs>" + "".join(markers) + "</defs>"


def _edge_svg(edge: _Edge, margin_left: int) -> str:
    span = edge.target - edge.source
    bulge = 18 + ARC_STEP * span
    on_left = edge.kind != "sparse"
    x = margin_left if on_left else margin_left + BOX_W
    apex = x - bulge if on_left else x + bulge
    y1 = _top(edge.source) + BOX_H * 0.65
    y2 = _top(edge.target) + BOX_H * (0.3 if edge.kind != "right" else 0.45)
    if edge.kind == "left":
        y2 = _top(edge.target) + BOX_H * 0.2
    color = COLORS[edge.kind] if edge.live else GREY
    marker = ("binary" if edge.kind in ("left", "right") else edge.kind) if edge.live else "inactive"
    dash = "" if edge.live else ' stroke-dasharray="4 3"'
    classes = f"edge {edge.kind}" + ("" if edge.live else " inactive")
    path = f"M{x},{y1:.1f} C{apex},{y1:.1f} {apex},{y2:.1f} {x},{y2:.1f}"
    out = (
        f'<g class="{classes}" data-source="{edge.source}" data-target="{edge.target}">'
        f'<path d="{path}" fill="none" stroke="{color}" stroke-width="{1.8 if edge.live else 1.2}"{dash} '
        f'marker-end="url(#arrow-{marker})"/>'
    )
    if edge.kind in ("left", "right"):
        ty = (y1 + y2) / 2 + 4
        out += (
            f'<text x="{apex + 3}" y="{ty:.1f}" fill="{color}" font-size="10" font-weight="bold">'
            f"{'L' if edge.kind == 'left' else 'R'}</text>"
        )
    return out + "</g>"


def _box(node: int, x: int, live: bool) -> str:
    fill, stroke = ("#f6f8fa", DARK) if live else ("#eef0f2", GREY)
    return (
        f'<rect x="{x}" y="{_top(node)}" width="{BOX_W}" height="{BOX_H}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>'
    )


def _node(node: int, x: int, heading: str, lines: list[str], live: bool) -> str:
    kind = "inputs" if node == 0 else "head"
    out = [f'<g class="node {kind}" data-node="{node}">', _box(node, x, live)]
    out.append(
        f'<text x="{x + 10}" y="{_top(node) + 20}" font-weight="bold" fill="{DARK}">{_esc(heading)}</text>'
    )
    for k, line in enumerate(lines):
        out.append(f'<text x="{x + 10}" y="{_top(node) + 38 + 16 * k}" fill="{DARK}">{_esc(line)}</text>')
    out.append("</g>")
    return "".join(out)


def _block_svg(i: int, block: Block | None, live: BlockLiveness, x: int) -> str:
    node, top = i + 1, _top(i + 1)
    alive = block is not None and live.alive
    status = "live" if alive else "dead"
    if block is None:
        tip, heading = f"block {i}: pruned (cannot reach the head)", f"block {i} · pruned"
        lines: list[tuple[str, bool]] = []
    else:
        lines = _block_lines(block, live if alive else DEAD)
        knobs = "" if block.knobs is None else f" · {block.knobs.label}"  # e.g. W4A8 dpe
        heading = f"block {i}{knobs}" + ("" if alive else " · dead (cannot reach the head)")
        tip = f"block {i}{knobs}: " + "; ".join(text for text, _ in lines)
    out = [
        f'<g class="block {status}" data-block="{i}"'
        + (
            f' data-dense-op="{_esc(block.dense_op or "")}" data-sparse-op="{_esc(block.sparse_op or "")}"'
            + (f' data-knobs="{_esc(block.knobs.label)}"' if block.knobs is not None else "")
            if block is not None
            else ""
        )
        + ">",
        f"<title>{_esc(tip)}</title>",
        _box(node, x, alive),
        f'<text x="{x + 10}" y="{top + 18}" font-weight="bold" fill="{DARK if alive else GREY}">'
        f"{_esc(heading)}</text>",
    ]
    for k, (text, text_live) in enumerate(lines):
        color = DARK if alive and text_live else GREY
        out.append(f'<text x="{x + 10}" y="{top + 36 + 16 * k}" fill="{color}">{_esc(text)}</text>')
    if block is not None:
        flags = [("FM", block.fm, live.fm), ("DS", block.dense_to_sparse, live.dense_to_sparse)]
        fx = x + BOX_W - 10
        for name, gene, flag_live in reversed(flags):
            if not gene:
                continue
            color = COLORS["sparse"] if alive and flag_live else GREY
            out.append(
                f'<text class="flag" x="{fx}" y="{top + 18}" text-anchor="end" font-size="10" '
                f'font-weight="bold" fill="{color}">{name}</text>'
            )
            fx -= 24
    out.append("</g>")
    return "".join(out)


def _legend(y: int, x: int) -> str:
    items = [
        ("dense input", COLORS["dense"], ""),
        ("sparse input", COLORS["sparse"], ""),
        ("L / R operand", COLORS["left"], ""),
        ("unused", GREY, ' stroke-dasharray="4 3"'),
    ]
    out = ['<g class="legend" font-size="11">']
    for k, (text, color, dash) in enumerate(items):
        lx = x - 30 + k * 95
        out.append(
            f'<line x1="{lx}" y1="{y}" x2="{lx + 18}" y2="{y}" stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{lx + 22}" y="{y + 4}" fill="{DARK}">{_esc(text)}</text>'
        )
    out.append("</g>")
    return "".join(out)

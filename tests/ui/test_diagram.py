"""nasrec.diagram: the SVG is well-formed, has one box per block, one arc per input, greys out what
cannot reach the head, escapes every text, and rejects architectures it cannot draw."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from nasrec.diagram import architecture_svg
from nasrec.errors import ConfigError
from nasrec.space import Architecture, Block, load_space, sample_architecture

NS = {"svg": "http://www.w3.org/2000/svg"}
BASELINES = Path(__file__).resolve().parents[2] / "search_spaces" / "baselines"


def _block(**genes: object) -> Block:
    base: dict[str, object] = {
        "dense_op": "fc",
        "sparse_op": "efc",
        "dense_width": 64,
        "sparse_width": 16,
        "dense_inputs": (0,),
        "sparse_inputs": (0,),
        "left": None,
        "right": None,
        "dense_to_sparse": False,
        "fm": False,
    }
    return Block(**{**base, **genes})  # type: ignore[arg-type]


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{{{NS['svg']}}}g") if cls in (g.get("class") or "").split()]


def _edges(root: ET.Element) -> set[tuple[str, int, int, bool]]:
    out = set()
    for g in _groups(root, "edge"):
        classes = g.get("class", "").split()
        kind = next(k for k in ("dense", "sparse", "left", "right") if k in classes)
        out.add(
            (kind, int(g.get("data-source", -1)), int(g.get("data-target", -1)), "inactive" not in classes)
        )
    return out


def test_blocks_and_edges_of_a_small_network() -> None:
    arch = Architecture(
        (
            _block(dense_inputs=(0,), sparse_inputs=(0,)),
            _block(
                dense_op="sum", left=0, right=1, dense_inputs=None, sparse_op="attention", sparse_inputs=(1,)
            ),
            _block(dense_op="dot", dense_inputs=(1, 2), sparse_inputs=(0, 2), sparse_op=None, fm=True),
        )
    )
    root = _parse(architecture_svg(arch, title="three blocks"))
    assert root.get("data-blocks") == "3" and root.get("data-alive") == "3"
    blocks = _groups(root, "block")
    assert [b.get("data-block") for b in blocks] == ["0", "1", "2"]
    assert [b.get("data-dense-op") for b in blocks] == ["fc", "sum", "dot"]
    assert all("live" in b.get("class", "").split() for b in blocks)
    text = " ".join(t.text or "" for t in root.iter(f"{{{NS['svg']}}}text"))
    assert "dense: fc · D=64" in text and "sparse: attention · T=16" in text and "dense: dot · D=64" in text
    # node 0 = inputs, j + 1 = block j, 4 = head; block 2's FM flag has no sparse op to read: dead gene
    assert _edges(root) == {
        ("dense", 0, 1, True),
        ("sparse", 0, 1, True),
        ("left", 0, 2, True),
        ("right", 1, 2, True),
        ("sparse", 1, 2, True),
        ("dense", 1, 3, True),
        ("dense", 2, 3, True),
        ("sparse", 0, 3, True),
        ("sparse", 2, 3, True),
        ("dense", 3, 4, True),
        ("sparse", 3, 4, True),
    }


def test_dead_blocks_and_unused_ops_are_grey() -> None:
    # Block 0 feeds nothing: dead. Block 1's sparse op is read by nobody (the head reads block 2).
    arch = Architecture(
        (
            _block(),
            _block(dense_inputs=(0,), sparse_inputs=(0,)),
            _block(dense_inputs=(2,), sparse_inputs=(0,)),
        )
    )
    assert arch.alive_blocks() == (1, 2)
    root = _parse(architecture_svg(arch))
    state = {b.get("data-block"): b.get("class") for b in _groups(root, "block")}
    assert state == {"0": "block dead", "1": "block live", "2": "block live"}
    edges = _edges(root)
    assert ("dense", 0, 1, False) in edges and ("sparse", 0, 1, False) in edges  # into the dead block
    assert ("sparse", 0, 2, False) in edges  # block 1's unused sparse op
    assert ("dense", 0, 2, True) in edges and ("dense", 2, 3, True) in edges
    # a canonical form drops the dead block: drawn as a pruned box without arcs
    canonical = _parse(architecture_svg(arch.canonical()))
    assert [b.get("class") for b in _groups(canonical, "block")] == ["block dead", "block live", "block live"]
    assert not any(e[2] == 1 for e in _edges(canonical))


def test_every_text_is_escaped() -> None:
    evil = "<script>alert('x')</script>&\""
    data = Architecture((_block(),)).to_dict()
    data["blocks"][0]["dense_op"] = evil
    with pytest.raises(ConfigError, match="block 0: dense_op: unknown op"):
        architecture_svg(data)  # a JSON object is checked; an Architecture built in code is drawn as given
    svg = architecture_svg(Architecture((_block(dense_op=evil),)), title=evil)
    assert "<script" not in svg and "&lt;script&gt;" in svg
    root = _parse(svg)  # still well-formed XML
    assert not list(root.iter(f"{{{NS['svg']}}}script"))
    assert evil in (root.find("svg:title", NS).text or "")
    assert _groups(root, "block")[0].get("data-dense-op") == evil


@pytest.mark.parametrize("name", ["dlrm", "deepfm", "autoint", "mlp", "dcnv2", "nasrec_criteo_full"])
def test_baselines_draw(name: str) -> None:
    data = json.loads((BASELINES / f"{name}.json").read_text())
    root = _parse(architecture_svg(data))
    assert len(_groups(root, "block")) == len(data["blocks"])


def test_cross_operands_are_drawn_as_left_and_right() -> None:
    """DCNv2's stacked cross layers: x_0 (left) is block 0's output every time, x_l (right) the previous."""
    root = _parse(architecture_svg(json.loads((BASELINES / "dcnv2.json").read_text())))
    assert [b.get("data-dense-op") for b in _groups(root, "block")][1:4] == ["cross"] * 3
    edges = _edges(root)
    assert {e for e in edges if e[0] == "left"} == {("left", 1, t, True) for t in (2, 3, 4)}
    assert {e for e in edges if e[0] == "right"} == {("right", s, s + 1, True) for s in (1, 2, 3)}


def test_a_blocks_knobs_are_in_its_heading() -> None:
    from nasrec.space.codesign import Knobs

    arch = Architecture(
        (_block(dense_op="dot", knobs=Knobs(4, 8, "dpe")), _block(sparse_inputs=(1,), dense_inputs=(1,)))
    )
    root = _parse(architecture_svg(arch))
    first, second = _groups(root, "block")
    assert first.get("data-knobs") == "W4A8 dpe" and second.get("data-knobs") is None
    texts = [t.text for t in first.iter(f"{{{NS['svg']}}}text")]
    assert "block 0 · W4A8 dpe" in texts
    assert "block 1" in [t.text for t in second.iter(f"{{{NS['svg']}}}text")]  # knob-less: naive, no label


def test_sampled_architectures_draw() -> None:
    space, rng = load_space("nasrec_full"), np.random.default_rng(0)
    for _ in range(50):
        arch = sample_architecture(space, rng)
        root = _parse(architecture_svg(arch))
        live = [b for b in _groups(root, "block") if b.get("class") == "block live"]
        assert len(live) == len(arch.alive_blocks())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"blocks": [1]}, "block 0: expected a block object"),
        ({"nodes": []}, "'blocks' list"),
        ({"blocks": [{"dense_op": "fc"}]}, "missing keys"),
        (
            {"blocks": [{**_block().to_dict(), "dense_inputs": [3]}]},
            r"block 0: dense_inputs: candidate\(s\) \[3\] out of range",
        ),
        ({"blocks": [{**_block().to_dict(), "dense_width": "wide"}]}, "dense_width"),
    ],
)
def test_rejects_what_it_cannot_draw(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        architecture_svg(data)

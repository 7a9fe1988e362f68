"""Architecture behaviour: validation, liveness, canonical form and hash, reference import."""

from __future__ import annotations

import json

import pytest

from nasrec.errors import ConfigError
from nasrec.space import Architecture, Block, load_space, reference_space_name

FULL = load_space("nasrec_full")
SMALL = load_space("nasrec_small")


def block(**genes: object) -> Block:
    base = dict(
        dense_op="fc",
        sparse_op="efc",
        dense_width=64,
        sparse_width=16,
        dense_inputs=(0,),
        sparse_inputs=(0,),
        left=0,
        right=0,
        dense_to_sparse=False,
        fm=False,
    )
    base.update(genes)
    return Block(**base)  # type: ignore[arg-type]


def chain(*blocks: Block) -> Architecture:
    """Pad to 7 blocks: each filler reads only the previous block (keeps earlier ones live)."""
    out = list(blocks)
    while len(out) < 7:
        i = len(out)
        out.append(block(dense_inputs=(i,), sparse_inputs=(i,)))
    return Architecture(tuple(out))


def with_block(arch: Architecture, i: int, **genes: object) -> Architecture:
    blocks = list(arch.blocks)
    blocks[i] = blocks[i].with_(**genes)  # type: ignore[union-attr]
    return Architecture(tuple(blocks))


# ---- reference configs -----------------------------------------------------------------------------------


def test_reference_configs_import_and_validate(reference_config: dict) -> None:
    arch = Architecture.from_nasrec_json(reference_config)
    space = load_space(reference_space_name(reference_config))
    assert space.name == {"autoctr": "nasrec_small", "xlarge": "nasrec_full"}[reference_config["config"]]
    arch.validate(space)
    arch.canonical().validate(space)
    assert arch.num_blocks == 7
    assert Architecture.from_nasrec_json(json.dumps(reference_config)) == arch


def test_reference_node_ids_and_dead_blocks(reference_config: dict) -> None:
    arch = Architecture.from_nasrec_json(reference_config)
    nodes = {"autoctr": ["fc", "dot", "efc"], "xlarge": ["fc", "dot", "gating", "sum", "attention", "efc"]}
    first = reference_config["micro"][0]
    names = [nodes[reference_config["config"]][i] for i in first["active_nodes"]]
    assert {arch.blocks[0].dense_op, arch.blocks[0].sparse_op} == set(names)  # type: ignore[union-attr]
    dead = sorted(set(range(7)) - set(arch.alive_blocks()))
    # NASREC_REFERENCE.md 1.6: Criteo/Avazu Full have blocks 3-5 dead; Criteo Small and KDD Full block 5.
    expected = {
        (0.4511, "xlarge"): [3, 4, 5],
        (0.3922, "xlarge"): [3, 4, 5],
        (0.4474, "autoctr"): [5],
        (0.1570, "xlarge"): [5],
        (0.3907, "autoctr"): [],
        (0.1563, "autoctr"): [],
    }
    assert dead == expected[(int(reference_config["test_loss"] * 1e4) / 1e4, reference_config["config"])]


def test_reference_import_errors() -> None:
    data = {"config": "xlarge-zeros", "macro": [], "micro": []}
    with pytest.raises(ConfigError, match="xlarge-zeros"):
        reference_space_name(data)
    good = {
        "config": "xlarge",
        "macro": [{"dense_idx": [0], "sparse_idx": [0], "dense_left_idx": [0], "dense_right_idx": [0]}],
        "micro": [
            {
                "active_nodes": [0, 1],
                "dense_in_dims": 16,
                "sparse_in_dims": 16,
                "dense_sparse_interact": 0,
                "deep_fm": 0,
            }
        ],
    }
    with pytest.raises(ConfigError, match="block 0: micro.active_nodes"):
        Architecture.from_nasrec_json(good)
    good["micro"][0]["active_nodes"] = [0, 9]
    with pytest.raises(ConfigError, match="block 0: micro.active_nodes"):
        Architecture.from_nasrec_json(good)
    del good["micro"][0]["deep_fm"]
    good["micro"][0]["active_nodes"] = [0, 5]
    with pytest.raises(ConfigError, match="block 0: micro.deep_fm is missing"):
        Architecture.from_nasrec_json(good)


# ---- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "i", "genes", "message"),
    [
        (SMALL, 2, {"dense_op": "gating"}, "block 2: dense_op: 'gating' is not in space 'nasrec_small'"),
        (SMALL, 1, {"sparse_op": "attention"}, "block 1: sparse_op"),
        (FULL, 3, {"dense_width": 100}, "block 3: dense_width: 100 is not one of"),
        (FULL, 3, {"sparse_width": 8}, "block 3: sparse_width"),
        (FULL, 2, {"dense_inputs": (0, 3)}, "block 2: dense_inputs: candidate(s) [3] out of range"),
        (FULL, 6, {"sparse_inputs": (0, 1, 2, 3, 4)}, "block 6: sparse_inputs: 5 inputs, at most 4"),
        (FULL, 2, {"sparse_inputs": ()}, "block 2: sparse_inputs: is empty"),
        (FULL, 2, {"dense_op": "sum", "left": None}, "block 2: left: the binary op 'sum' needs"),
        (FULL, 1, {"right": 2}, "block 1: right: candidate 2 is out of range"),
        (FULL, 6, {"sparse_op": None}, "block 6: dense_op/sparse_op: the last block"),
        (
            FULL,
            2,
            {"dense_op": None, "dense_width": None, "dense_to_sparse": True},
            "block 2: dense_to_sparse",
        ),
    ],
)
def test_validate_names_block_and_gene(space, i: int, genes: dict, message: str) -> None:  # noqa: ANN001
    arch = with_block(chain(block()), i, **genes)
    with pytest.raises(ConfigError) as info:
        arch.validate(space)
    assert message in str(info.value)


def test_validate_block_count_and_missing_streams() -> None:
    with pytest.raises(ConfigError, match="blocks: the architecture has 2 blocks"):
        Architecture((block(), block())).validate(FULL)
    arch = with_block(chain(block()), 3, sparse_op=None, sparse_width=None)
    with pytest.raises(ConfigError, match="block 4: sparse_inputs: reads the sparse output of block 3"):
        arch.validate(FULL)


def test_validate_returns_self_for_chaining() -> None:
    arch = chain(block())
    assert arch.validate(FULL) is arch


# ---- liveness and canonical form --------------------------------------------------------------------------


def test_per_stream_liveness() -> None:
    # Block 5 reads only block 1's dense output (fc ignores sparse inputs), fm off: block 1's sparse op
    # is dead.
    arch = chain(
        block(),
        block(),
        block(),
        block(),
        block(dense_inputs=(0,), sparse_inputs=(0,)),
        block(dense_inputs=(2, 5), sparse_inputs=(5,)),
        block(dense_inputs=(6,), sparse_inputs=(6,)),
    )
    live = arch.liveness()
    assert live[1].dense_out and not live[1].sparse_out
    assert live[1].dense_op and not live[1].sparse_op
    assert arch.alive_blocks() == (1, 4, 5, 6)  # blocks 0, 2, 3 read by nobody live
    canon = arch.canonical()
    assert canon.blocks[0] is None and canon.blocks[2] is None and canon.blocks[3] is None
    b1 = canon.blocks[1]
    assert b1 is not None and b1.sparse_op is None and b1.sparse_width is None and b1.sparse_inputs is None
    assert b1.left is None and b1.right is None  # fc does not read left/right
    # fm on block 1 makes its sparse op live again (the FM term reads it).
    with_fm = with_block(arch, 1, fm=True).canonical().blocks[1]
    assert with_fm is not None and with_fm.sparse_op == "efc" and with_fm.fm


def test_dense_to_sparse_keeps_the_dense_op_alive() -> None:
    # Block 3 reads only block 2's sparse output, so block 2's dense op lives only through DS.
    arch = chain(block(), block(), block(dense_to_sparse=True), block(dense_inputs=(0,), sparse_inputs=(3,)))
    live = arch.liveness()
    assert not live[2].dense_out and live[2].sparse_out and live[2].dense_op and live[2].dense_to_sparse
    canon = arch.canonical().blocks[2]
    assert canon is not None and canon.dense_op == "fc" and canon.dense_to_sparse and not canon.fm


def test_dead_genes_do_not_change_the_hash(load_reference) -> None:  # noqa: ANN001
    arch = Architecture.from_nasrec_json(load_reference("criteo", "xlarge"))
    h = arch.canonical_hash()
    assert with_block(arch, 4, dense_width=1024, sparse_op="attention").canonical_hash() == h  # dead block
    assert with_block(arch, 6, left=3, right=3).canonical_hash() == h  # fc ignores left/right
    assert with_block(arch, 1, left=1, right=0).canonical_hash() == h  # block 1 runs dot: left/right dead
    avazu = Architecture.from_nasrec_json(load_reference("avazu", "xlarge"))
    assert not avazu.liveness()[2].dense_out and avazu.blocks[2].fm is False  # type: ignore[union-attr]
    assert with_block(avazu, 2, fm=True).canonical_hash() == avazu.canonical_hash()  # fm feeds a dead stream


def test_reachable_changes_change_the_hash(load_reference) -> None:  # noqa: ANN001
    arch = Architecture.from_nasrec_json(load_reference("criteo", "xlarge"))
    h = arch.canonical_hash()
    assert with_block(arch, 6, dense_width=256).canonical_hash() != h
    assert with_block(arch, 0, sparse_width=16).canonical_hash() != h
    assert with_block(arch, 6, dense_to_sparse=True).canonical_hash() != h


def test_sum_is_commutative_gating_is_not() -> None:
    arch = chain(block(), block(dense_op="sum", left=0, right=1))
    swapped = with_block(arch, 1, left=1, right=0)
    assert arch.canonical_hash() == swapped.canonical_hash()
    gating = with_block(arch, 1, dense_op="gating")
    assert gating.canonical_hash() != with_block(gating, 1, left=1, right=0).canonical_hash()


def test_canonical_is_idempotent_and_hash_survives_json(reference_config: dict) -> None:
    arch = Architecture.from_nasrec_json(reference_config)
    canon = arch.canonical()
    assert canon.canonical() == canon
    assert Architecture.from_json(arch.to_json()).canonical_hash() == arch.canonical_hash()
    assert Architecture.from_json(canon.to_json()) == canon
    assert canon.canonical_hash() == arch.canonical_hash()
    assert len(arch.canonical_hash()) == 16


def test_block_normalises_inputs() -> None:
    b = block(dense_inputs=[2, 0], sparse_inputs=(1,))
    assert b.dense_inputs == (0, 2) and isinstance(b.sparse_inputs, tuple)
    assert block(dense_inputs=(2, 0)) == block(dense_inputs=(0, 2))

"""Planted teachers: each is reproducible, stores its exact Bayes log loss, hits its click rate; ``fm``
is the data of the single teacher that came before; ``nasrec data synth --teacher`` picks one."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import pytest

from nasrec.cli import main
from nasrec.data import dense_transform, synthesize
from nasrec.data.teachers import (
    TEACHERS,
    CrossConfig,
    DenseGateConfig,
    FMConfig,
    binary_entropy,
    make_teacher,
)
from nasrec.errors import ConfigError

#: sha256 of labels, dense, sparse and true_prob of ``synthesize(rows=3000, seed=7)`` written by the
#: single pre-registry teacher (commit 8d39147): the ``fm`` teacher must keep producing exactly this.
FM_DIGEST = "476f65f6b753b86cc84bf3dcee08bc77acab140c728d4d50b4eb761c102a8fe0"


def _digest(ds) -> str:  # noqa: ANN001
    h = hashlib.sha256()
    for array in (ds.labels, ds.dense, ds.sparse, ds.split_array("true_prob", "train")):
        h.update(np.ascontiguousarray(np.asarray(array)).tobytes())
    return h.hexdigest()


def test_fm_is_the_data_of_the_first_teacher() -> None:
    assert _digest(synthesize("fm-default", rows=3_000, seed=7)) == FM_DIGEST
    assert _digest(synthesize("fm-named", rows=3_000, seed=7, teacher="fm")) == FM_DIGEST


@pytest.mark.parametrize("teacher", sorted(TEACHERS))
def test_teacher_reproducible_exact_bayes_and_click_rate(teacher: str) -> None:
    a = synthesize(f"{teacher}-a", rows=20_000, seed=3, teacher=teacher)
    b = synthesize(f"{teacher}-b", rows=20_000, seed=3, teacher=teacher)
    c = synthesize(f"{teacher}-c", rows=20_000, seed=4, teacher=teacher)
    assert _digest(a) == _digest(b) != _digest(c)
    assert a.meta["teacher"] == b.meta["teacher"] and a.meta["teacher"]["name"] == teacher
    assert a.meta["teacher"]["seed"] == 3
    for split in ("train", "val", "test"):
        p = np.asarray(a.split_array("true_prob", split), dtype=np.float64)
        assert a.meta["bayes_logloss"][split] == pytest.approx(binary_entropy(p).mean(), abs=1e-5)
    assert a.info()["positive_rate"] == pytest.approx(0.25, abs=0.015)
    base_entropy = float(binary_entropy(np.array([0.25]))[0])
    assert a.meta["bayes_logloss"]["train"] < base_entropy - 0.1  # the features explain a lot


def test_teachers_have_different_structure_and_own_knobs() -> None:
    """Same seed, different teachers: different click probabilities; a knob changes its teacher's p."""
    terms, probs = {}, {}
    for name in TEACHERS:
        teacher = make_teacher(name, seed=0)
        counts, ids = teacher.sample_inputs(5_000, seed=0)
        dense = dense_transform(counts).astype(np.float64)
        probs[name] = teacher.probabilities(dense, ids)
        terms[name] = teacher.logit_terms(dense, ids).keys()
    assert set(terms["cross"]) == {"first_order", "third_order", "fourth_order", "dense_field"}
    assert set(terms["dense_gate"]) == {"first_order", "dense_nonlinear", "gated"}
    assert set(terms["attention"]) == {"first_order", "attention"}
    names = list(TEACHERS)
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            assert abs(np.corrcoef(probs[x], probs[y])[0, 1]) < 0.5, (x, y)
    low = synthesize("low-rate", rows=20_000, seed=1, teacher="cross", config=CrossConfig(positive_rate=0.1))
    assert low.info()["positive_rate"] == pytest.approx(0.1, abs=0.015)
    assert low.meta["teacher"]["positive_rate"] == 0.1 and len(low.meta["teacher"]["triples"]) == 4


def test_cross_terms_have_no_part_that_depends_on_fewer_fields() -> None:
    """A three-field product averaged over one of its fields' id distribution is zero: no pairwise
    model can express any of it."""
    teacher = make_teacher("cross", seed=0)
    for fields in teacher.triples:
        for f in fields:
            assert np.abs(teacher.id_prob[f] @ teacher.v[f]).max() < 1e-12


def test_unknown_teacher_or_mismatched_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="fm, cross, dense_gate, attention.*'dlrm'"):
        synthesize("bad", rows=100, teacher="dlrm")
    with pytest.raises(ConfigError, match="teacher 'cross' takes a CrossConfig, got a FMConfig"):
        synthesize("bad", rows=100, teacher="cross", config=FMConfig())
    with pytest.raises(ConfigError, match="gated_fields"):
        DenseGateConfig(gated_fields=30)


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # noqa: ANN202
    monkeypatch.setattr(sys, "argv", ["nasrec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_synth_teacher_and_info_shows_it(monkeypatch, capsys) -> None:  # noqa: ANN001
    code, out, _ = _run(
        ["data", "synth", "-n", "att", "--rows", "2000", "--teacher", "attention", "--json"],
        monkeypatch,
        capsys,
    )
    assert code == 0 and json.loads(out)["teacher"]["name"] == "attention"
    code, out, _ = _run(["data", "info", "att"], monkeypatch, capsys)
    assert code == 0 and "teacher" in out and "attention (seed 0)" in out and "sharpness" in out
    code, out, err = _run(
        ["data", "synth", "-n", "x", "--rows", "2000", "--teacher", "nope"], monkeypatch, capsys
    )
    assert code == 1 and "teacher must be one of fm, cross, dense_gate, attention" in err
    assert "Traceback" not in err

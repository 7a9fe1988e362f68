"""The one dataset-name rule (``nasrec.names``), as the data layer, the store and the API apply it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nasrec.errors import ConfigError
from nasrec.names import DATASET_NAME_MAX_LENGTH, check_dataset_name

GOOD = ["a", "criteo", "Criteo_1.v2-x", "9lives", "a" * DATASET_NAME_MAX_LENGTH]
BAD = ["", ".", "..", ".hidden", "-x", "_x", "a/b", "../up", "a b", "caf\u00e9", "x\n", "a" * 129]


def test_the_rule_fits_the_store_column() -> None:
    from nasrec.store.models import Dataset

    assert DATASET_NAME_MAX_LENGTH == 128 == Dataset.__table__.c.name.type.length


@pytest.mark.parametrize("name", GOOD)
def test_valid_names(name: str) -> None:
    assert check_dataset_name(name) == name


@pytest.mark.parametrize("name", BAD)
def test_invalid_names_say_what_a_name_may_be(name: str) -> None:
    with pytest.raises(ConfigError, match=r"invalid dataset name .*1-128 letters, digits"):
        check_dataset_name(name)


@pytest.mark.parametrize("name", [*GOOD, *BAD])
def test_every_place_applies_the_same_rule(name: str) -> None:
    """The data layer and the store call the function; the API's schemas use its pattern."""
    from nasrec.data.store import staging_dir
    from nasrec.store import crud
    from server.models import DatasetSynthesize

    valid = name in GOOD
    assert crud.check_dataset_name is check_dataset_name
    try:
        DatasetSynthesize(name=name)
    except ValidationError:
        assert not valid
    else:
        assert valid
    if not valid:
        with pytest.raises(ConfigError, match="invalid dataset name"), staging_dir(name):
            pass

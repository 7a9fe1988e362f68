"""Every command answers a usage mistake with a usage message (exit 2), never a traceback.

Typer bundles its own click; catching the standalone click's exceptions once let every usage error
escape as a traceback. The table covers every command (a new one must be added here), each with a
missing argument (where it has a required one), an unknown option and a bad value.
"""

from __future__ import annotations

import pytest
import typer.main

from server.cli import app
from tests.support.cli import run_cli

#: command -> (missing argument, bad value); None where the command has no required argument.
CASES: dict[str, tuple[list[str] | None, list[str]]] = {
    "train": (["train"], ["train", "a.json", "--data", "d", "--steps", "many"]),
    "export": (["export"], ["export", "a.json", "--data", "d", "--out", "o", "--train-steps", "x"]),
    "search": (["search"], ["search", "job.yaml", "--storage"]),
    "demo": (None, ["demo", "--json=maybe"]),
    "serve": (None, ["serve", "--port", "http"]),
    "worker": (None, ["worker", "--lease", "soon"]),
    "data ingest": (["data", "ingest"], ["data", "ingest", "csvx", "f.csv", "--name", "n"]),
    "data synth": (None, ["data", "synth", "--rows", "lots"]),
    "data info": (["data", "info"], ["data", "info", "d", "--json=1"]),
    "data list": (None, ["data", "list", "--json=1"]),
    "space list": (None, ["space", "list", "--json=1"]),
    "space show": (["space", "show"], ["space", "show", "s", "--json=1"]),
    "arch info": (["arch", "info"], ["arch", "info", "a.json", "--layernorm=maybe"]),
    "cost": (["cost"], ["cost", "a.json", "--shape", "13,26", "--w-bits", "three"]),
    "user create": (["user", "create"], ["user", "create", "bob", "--admin=yes"]),
    "user list": (None, ["user", "list", "--database-url"]),
    "token create": (["token", "create"], ["token", "create", "bob", "--name"]),
    "token list": (["token", "list"], ["token", "list", "bob", "--database-url"]),
    "token revoke": (["token", "revoke", "bob"], ["token", "revoke", "bob", "seven"]),
}


def _commands(command: object, path: tuple[str, ...] = ()) -> list[str]:
    subs = getattr(command, "commands", None)
    if not subs:
        return [" ".join(path)]
    return [name for key, sub in subs.items() for name in _commands(sub, (*path, key))]


def test_the_table_covers_every_command() -> None:
    assert sorted(_commands(typer.main.get_command(app))) == sorted(CASES)


def _cases() -> list[tuple[str, list[str]]]:
    out = []
    for name, (missing, bad) in CASES.items():
        if missing is not None:
            out.append((f"{name}: missing argument", missing))
        out.append((f"{name}: unknown option", [*name.split(), "--no-such-option"]))
        out.append((f"{name}: bad value", bad))
    return out


@pytest.mark.parametrize(("case", "argv"), _cases(), ids=[c for c, _ in _cases()])
def test_usage_errors_print_usage_not_a_traceback(
    case: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = run_cli(argv, monkeypatch, capsys, code=2)[1]
    # click prints the usage line once it has parsed the command; an option that is missing its value
    # (or given one it does not take) is refused while parsing, with the option named instead
    assert "Usage: nasrec " + case.split(":")[0] in err or "Option '--" in err, err


# export: an existing file (a SOURCE that is no path and no job directory names a job, whose dataset is known)
@pytest.mark.parametrize("argv", [["train", "a.json"], ["export", __file__, "--out", "o"]])
def test_dataset_option_is_required_and_named(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--dataset NAME" in run_cli(argv, monkeypatch, capsys, code=2)[1]

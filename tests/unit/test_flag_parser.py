"""graphc.flags' parser, on its own FlagValues: the command-line forms absl (TF1's flags) accepts and refuses.

The messages are absl 2's, as TF 2.21 raises them (tests/e2e/test_app_flags.py runs a
whole program against TF itself).
"""

from __future__ import annotations

import pytest

from graphc import flags


@pytest.fixture
def values():
    flag_values = flags.FlagValues()
    flags.DEFINE_string("name", "x", "a string", flag_values=flag_values)
    flags.DEFINE_integer("steps", 10, "an int", lower_bound=1, upper_bound=100, flag_values=flag_values)
    flags.DEFINE_float("rate", 0.5, "a float", flag_values=flag_values)
    flags.DEFINE_boolean("fast", False, "a bool", flag_values=flag_values)
    flags.DEFINE_list("layers", "8,4", "a list", flag_values=flag_values)
    flags.DEFINE_enum("mode", "train", ["train", "eval"], "an enum", flag_values=flag_values)
    return flag_values


def test_defaults_and_each_form_of_a_value(values):
    assert values.flag_values_dict() == {"name": "x", "steps": 10, "rate": 0.5, "fast": False, "layers": ["8", "4"],
                                         "mode": "train"}
    left = values(["prog", "-name=y", "--steps", "0x10", "--rate=1e-3", "--fast", "--layers=1,2,3", "--mode", "eval"])
    assert left == ["prog"]
    assert (values.name, values.steps, values.rate, values.fast, values.layers, values.mode) == (
        "y", 16, 1e-3, True, ["1", "2", "3"], "eval")
    assert values["steps"].present == 1 and values["steps"].default == 10


@pytest.mark.parametrize("argument, expected", [("--fast", True), ("--nofast", False), ("--fast=false", False),
                                                ("--fast=T", True), ("--fast=0", False)])
def test_boolean_forms(values, argument, expected):
    values(["prog", argument])
    assert values.fast is expected


def test_positional_arguments_stay_and_double_dash_ends_the_flags(values):
    assert values(["prog", "a", "--steps=2", "b", "--", "--steps=3"]) == ["prog", "a", "b", "--steps=3"]
    assert values.steps == 2
    assert values(["prog", "--", "c"], known_only=True) == ["prog", "--", "c"]


def test_unknown_flags(values):
    with pytest.raises(flags.UnrecognizedFlagError, match="Unknown command line flag 'nope'"):
        values(["prog", "--nope=1"])
    assert values(["prog", "--nope=1", "--steps=3"], known_only=True) == ["prog", "--nope=1"]


@pytest.mark.parametrize("arguments, message", [
    (["--steps=0"], "flag --steps=0: 0 is not an integer in the range [1, 100]"),
    (["--steps=1.5"], "flag --steps=1.5: invalid literal for int() with base 10: '1.5'"),
    (["--rate=fast"], "flag --rate=fast: could not convert string to float: 'fast'"),
    (["--fast=maybe"], "flag --fast=maybe: Non-boolean argument to boolean flag"),
    (["--mode=test"], "flag --mode=test: value should be one of <train|eval>"),
])
def test_bad_values(values, arguments, message):
    with pytest.raises(flags.IllegalFlagValueError) as failure:
        values(["prog", *arguments])
    assert str(failure.value) == message


def test_a_missing_value_and_a_redefinition(values):
    with pytest.raises(flags.Error, match="Missing value for flag --name"):
        values(["prog", "--name"])
    with pytest.raises(flags.DuplicateFlagError, match="The flag 'name' is defined twice"):
        flags.DEFINE_string("name", "z", "again", flag_values=values)


def test_setting_reading_and_unparsing(values):
    values(["prog", "--steps=5"])
    values.steps = "7"
    assert values.steps == 7
    with pytest.raises(AttributeError):
        values.nope
    with pytest.raises(AttributeError):
        values.nope = 1
    values.unparse_flags()
    assert not values.is_parsed() and values["steps"].value == 10


def test_reading_a_flag_parses_the_command_line_first(values, monkeypatch):
    monkeypatch.setattr("sys.argv", ["prog", "--steps=4"])
    assert values.steps == 4 and values.is_parsed()

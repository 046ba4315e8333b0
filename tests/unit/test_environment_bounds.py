"""GRAPHC_CACHE_MAX_BYTES and GRAPHC_MAX_LOADED_STEPS: parsed once, in graphc/environment.py, with their
defaults, units, and a message naming the variable for a value that is not one."""

import pytest

from graphc import environment


def test_defaults(setenv):
    setenv("GRAPHC_CACHE_MAX_BYTES", "")
    setenv("GRAPHC_MAX_LOADED_STEPS", "")
    assert environment.get().cache_max_bytes == 2 ** 30
    assert environment.get().max_loaded_steps == 64


@pytest.mark.parametrize("value, count", [("1000", 1000), ("500M", 500 * 2 ** 20), ("2g", 2 * 2 ** 30),
                                          (" 64K ", 64 * 2 ** 10), ("0", 0)])
def test_cache_bound_in_bytes_or_with_a_unit(setenv, value, count):
    setenv("GRAPHC_CACHE_MAX_BYTES", value)
    assert environment.get().cache_max_bytes == count


@pytest.mark.parametrize("variable, value", [("GRAPHC_CACHE_MAX_BYTES", "1.5G"), ("GRAPHC_CACHE_MAX_BYTES", "-1"),
                                             ("GRAPHC_CACHE_MAX_BYTES", "lots"), ("GRAPHC_MAX_LOADED_STEPS", "0"),
                                             ("GRAPHC_MAX_LOADED_STEPS", "ten")])
def test_a_value_that_is_not_one_names_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    try:
        with pytest.raises(ValueError, match=f"{variable}='{value}': expected"):
            environment.reload()
    finally:
        monkeypatch.undo()
        environment.reload()

"""Strict JSON writing: non-finite floats become null, everything else is unchanged."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rso import jsonio


def _refuse(name: str) -> object:
    raise ValueError(name)


def test_non_finite_floats_become_null_at_any_depth() -> None:
    data = {
        "nan": math.nan,
        "inf": math.inf,
        "neg": -math.inf,
        "numpy": np.float64("nan"),
        "nested": {"list": [1.0, math.nan, (2, math.inf)], "ok": 0.5},
        "other": ["text", 3, True, None],
    }
    text = jsonio.dumps(data, sort_keys=True)
    assert json.loads(text, parse_constant=_refuse) == {
        "nan": None,
        "inf": None,
        "neg": None,
        "numpy": None,
        "nested": {"list": [1.0, None, [2, None]], "ok": 0.5},
        "other": ["text", 3, True, None],
    }


def test_plain_json_writes_nan_which_strict_readers_refuse() -> None:
    # Why the helper exists: the standard library writes a token that is not JSON.
    with pytest.raises(ValueError, match="NaN"):
        json.loads(json.dumps({"x": math.nan}), parse_constant=_refuse)


def test_a_non_finite_float_hidden_from_the_cleaning_is_an_error_not_invalid_json() -> None:
    class Opaque:
        pass

    with pytest.raises(ValueError, match="not JSON compliant"):
        jsonio.dumps({"x": Opaque()}, default=lambda _: math.nan)


def test_write_json_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    jsonio.write_json(path, {"sr": float("nan"), "n": 2}, sort_keys=True)
    assert path.read_text() == '{"n": 2, "sr": null}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_read_json_object_and_invalid_key(tmp_path: Path) -> None:
    from rso.jsonio import invalid_key, read_json_object

    good = tmp_path / "meta.json"
    good.write_text('{"count": 3, "name": "x"}')
    assert read_json_object(good) == {"count": 3, "name": "x"}
    assert invalid_key(read_json_object(good), {"count": int, "name": str}) is None
    assert invalid_key(read_json_object(good), {"count": str}) == "count"
    assert invalid_key(read_json_object(good), {"missing": int}) == "missing"
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ValueError, match="list.json does not hold a JSON object"):
        read_json_object(tmp_path / "list.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json is unreadable"):
        read_json_object(tmp_path / "bad.json")

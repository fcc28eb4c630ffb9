"""Property-based fuzzing (Hypothesis) of the request parsers: whatever the body, the v2 and v1
parsers either return a valid request (a finite 2-D matrix of the model's width, an ``id`` that
can be echoed and stored) or raise the protocol's own error type, :class:`ApiError`, with a 4xx
status and a message that can be sent as JSON. Nothing else escapes.
"""
import json

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.serving.errors import ApiError, error_body
from workbench.serving.inference import parse_body
from workbench.serving.protocol import DATATYPES, Limits, parse_json, parse_v1, parse_v2

pytestmark = [pytest.mark.slow]

SIGNATURES = [
    {"task": "classification", "n_features": 4, "dtype": "float64",
     "feature_names": ["a", "b", "c", "d"], "classes": [0, 1]},
    {"task": "regression", "n_features": 2, "dtype": "float32", "feature_names": None},
]
OUTPUTS = ("label", "probabilities")
LIMITS = Limits(max_rows=5, max_inputs=4, max_rank=4, max_id_chars=32)
FUZZ = settings(max_examples=1000, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

texts = st.text(max_size=8) | st.sampled_from(["\ud800", "a\udfff", "²", "input-0", "a", "label"])
numbers = (st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | st.sampled_from([0, 1, -1, 2**63, 1e308, -0.0]))
scalars = st.none() | st.booleans() | numbers | texts
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=10)
data_values = st.recursive(numbers | st.booleans() | st.none() | texts,
                           lambda inner: st.lists(inner, max_size=6), max_leaves=16)
shapes = (st.lists(st.integers(-2, 8) | st.sampled_from([2**31, 2**70]), max_size=6)
          | st.lists(st.integers(0, 4), min_size=60, max_size=70) | json_values)
tensors = st.fixed_dictionaries(
    {}, optional={"name": texts | json_values, "shape": shapes, "data": data_values | json_values,
                  "datatype": st.sampled_from([*DATATYPES, "FLOAT", "\ud800"]) | json_values})
v2_bodies = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=6) | json_values},
    optional={"id": texts | st.text(min_size=30, max_size=40) | json_values,
              "outputs": st.lists(st.fixed_dictionaries({"name": texts}), max_size=3)
              | json_values,
              "parameters": st.dictionaries(texts, scalars, max_size=2) | json_values})
v1_rows = st.lists(st.lists(numbers | st.none() | texts, min_size=0, max_size=5)
                   | st.dictionaries(st.sampled_from(["a", "b", "c", "d", "\ud800"]), numbers,
                                     max_size=5) | json_values, max_size=8)
v1_bodies = st.fixed_dictionaries(
    {}, optional={"instances": v1_rows | json_values, "inputs": v1_rows,
                  "probabilities": st.booleans() | json_values})
signatures = st.sampled_from(SIGNATURES)


def _check_refusal(exc: ApiError):
    assert 400 <= exc.status < 500, exc
    assert orjson.loads(error_body(exc.message))["error"]


def _check_accepted(request, signature):
    X = request.X
    assert X.ndim == 2 and X.shape[1] == signature["n_features"]
    assert 1 <= X.shape[0] <= LIMITS.max_rows
    assert np.isfinite(X).all()
    request_id = getattr(request, "id", None)
    if request_id is not None:
        assert len(request_id) <= LIMITS.max_id_chars
        request_id.encode("utf-8")     # storable and echoable


@FUZZ
@given(body=v2_bodies | json_values, signature=signatures)
def test_parse_v2_raises_only_api_error(body, signature):
    try:
        request = parse_v2(body, signature, LIMITS, OUTPUTS)
    except ApiError as exc:
        _check_refusal(exc)
    else:
        _check_accepted(request, signature)


@FUZZ
@given(body=v1_bodies | json_values, signature=signatures)
def test_parse_v1_raises_only_api_error(body, signature):
    try:
        request = parse_v1(body, signature, LIMITS)
    except ApiError as exc:
        _check_refusal(exc)
    else:
        _check_accepted(request, signature)


def _encode(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


mutations = st.sampled_from([b"", b"[", b"]", b"\xff", b"\\ud800", b"NaN", b"1e999", b'"',
                             b"[" * 1100, b"{" * 1100, b"-", b"\x00"])


@FUZZ
@given(value=v2_bodies | v1_bodies | json_values, cut=st.integers(0, 400), insert=mutations,
       protocol=st.sampled_from(["v2", "v1"]), signature=signatures)
def test_parse_body_bytes_raise_only_api_error(value, cut, insert, protocol, signature):
    raw = _encode(value)
    if cut:   # splice hostile bytes somewhere into an otherwise well-formed body
        at = cut % (len(raw) + 1)
        raw = raw[:at] + insert + raw[at:]

    try:   # what parse_body does, without its safety net for non-ApiError exceptions
        payload = parse_json(raw)
        request = (parse_v2(payload, signature, LIMITS, OUTPUTS) if protocol == "v2"
                   else parse_v1(payload, signature, LIMITS))
    except ApiError as exc:
        _check_refusal(exc)
    else:
        _check_accepted(request, signature)


@FUZZ
@given(raw=st.binary(max_size=200) | st.builds(lambda n: b"[" * n + b"]" * n,
                                                st.integers(900, 5000)))
def test_parse_json_on_any_bytes(raw):
    try:
        value = parse_json(raw)
    except ApiError as exc:
        _check_refusal(exc)
    else:
        assert value is None or isinstance(value, (dict, list, str, int, float, bool))


def test_parse_body_answers_422_for_what_the_parsers_could_not_foresee(monkeypatch, caplog):
    """The endpoint's safety net: an unexpected exception from a parser is still a 4xx."""
    from workbench.serving import inference

    def broken(*args):
        raise ValueError("a case nobody foresaw")

    monkeypatch.setattr(inference, "parse_v2", broken)

    class Loaded:
        output_names, signature = OUTPUTS, SIGNATURES[0]

    try:
        parse_body("v2", b'{"inputs": []}', Loaded, LIMITS)
    except ApiError as exc:
        assert exc.status == 422 and "ValueError" in exc.message
    else:
        raise AssertionError("parse_body accepted a body its parser failed on")
    assert "request parser failed" in caplog.text

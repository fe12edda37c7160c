"""The REST API against its own OpenAPI document: Schemathesis generates requests, valid and invalid.

Every operation is called with generated data over real HTTP (a real server,
the tiny model); no response may be a 5xx, and every response must have a
documented status, content type and body schema. `POST /v1/train` is left
out: a generated intent file that happens to be valid would start a minutes-long
training; its validation is covered in test_server.py.
"""

from __future__ import annotations

import shutil

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("gunicorn")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import (content_type_conformance, negative_data_rejection, not_a_server_error,  # noqa: E402
                                 response_schema_conformance, status_code_conformance)
from test_server import TOKEN, start_server, stop  # noqa: E402

from assistant.nlu import store  # noqa: E402

EXAMPLES = 50
VALID_FLOOR, INVALID_FLOOR = 350, 150
"""At least 500 generated cases in all, each test counting its own (so `-k` or a parallel run cannot skip the check)."""


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory, tiny_model):
    models = tmp_path_factory.mktemp("schema-store")
    shutil.copytree(tiny_model, models / "tiny")
    store.point(models, "tiny")
    process, url, lines = start_server(models, env={"ASSISTANT_SERVER_TOKENS": TOKEN})  # with speech: a valid upload is recognised, not a 503
    yield url
    stop(process, lines)


def conforms(api_url: str, mode, examples: int) -> int:
    """Generate `examples` cases per operation in `mode` and validate each response; the number of cases run."""
    from hypothesis import given

    api = schemathesis.openapi.from_url(api_url + "/openapi.json").exclude(method="POST", path="/v1/train")
    ran = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            nonlocal ran
            ran += 1
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"},
                                   checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                           response_schema_conformance, negative_data_rejection])

        try:
            check()
        except Unsatisfiable:  # nothing to break in an operation without parameters or body (negative mode)
            pass
    return ran


def test_valid_requests_conform(schema_server):
    """Requests built to the schema: documented answers only, never a 5xx."""
    ran = conforms(schema_server, schemathesis.GenerationMode.POSITIVE, EXAMPLES)
    print(f"{ran} valid cases")
    assert ran >= VALID_FLOOR, ran


def test_invalid_requests_are_rejected_with_a_documented_4xx(schema_server):
    """Requests that break the schema: rejected with a documented 4xx and the error shape, never a 5xx."""
    ran = conforms(schema_server, schemathesis.GenerationMode.NEGATIVE, EXAMPLES // 2)
    print(f"{ran} invalid cases")
    assert ran >= INVALID_FLOOR, ran

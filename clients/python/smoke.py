"""Smoke test of a Python client generated from Custos's /openapi.json (openapi-python-client).

Run by crates/cli/tests/it/api_contract.rs against a running `custos serve --demo`:

    python smoke.py <dir holding the generated package custos_client> <base URL> <app key>

Reads /healthz and the policy without a key, stores a record with the app key, lists the
subject's records, and reads a refusal as a typed problem document. Exits non-zero on any
mismatch.
"""

import sys

sys.path.insert(0, sys.argv[1])
base_url, app_key = sys.argv[2], sys.argv[3]

from custos_client import AuthenticatedClient, Client  # noqa: E402
from custos_client.api.operations import healthz  # noqa: E402
from custos_client.api.policy import policy  # noqa: E402
from custos_client.api.records import list_records, put_record  # noqa: E402
from custos_client.models import (  # noqa: E402
    Health,
    Problem,
    ProblemCode,
    PutRecord,
    RecordPage,
    RecordQuery,
    RecordView,
)

public = Client(base_url=base_url)
health = healthz.sync(client=public)
assert isinstance(health, Health) and health.status == "ok", health

resolved = policy.sync_detailed(client=public)
assert resolved.status_code == 200, resolved.status_code
assert resolved.parsed is not None and "categories" in resolved.parsed.to_dict(), "policy"

app = AuthenticatedClient(base_url=base_url, token=app_key)
subject = "python-client@example.org"
stored = put_record.sync(
    client=app,
    body=PutRecord(
        subject=subject,
        category="support",
        purposes=["support"],
        data={"question": "where is my invoice?"},
    ),
)
assert isinstance(stored, RecordView), stored
assert stored.category == "support" and len(stored.id) == 32, stored

page = list_records.sync(client=app, body=RecordQuery(subject=subject))
assert isinstance(page, RecordPage), page
assert [r.id for r in page.records] == [stored.id], page

refused = put_record.sync(
    client=app,
    body=PutRecord(subject=subject, category="no.such.category", purposes=["support"], data={}),
)
assert isinstance(refused, Problem), refused
assert refused.code == ProblemCode.UNKNOWN_CATEGORY and refused.status == 422, refused

print("python client: healthz, policy, put_record, list_records, problem: ok")

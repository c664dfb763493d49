"""HubSpot workflow actions that write to QuickBooks (R-WF-1…9, R-CUS-2).

`model`: what an execution reads (the enrolled record, its lines and contacts) and the
`ActionFailed` error; `gather`: the HubSpot reads; `customers`, `items`: the contact and
line checks (nothing written until every check passed); `documents`: the QBO documents;
`execute`: one execution from start to end; `service`: the endpoint's side (claim the
callbackId, answer BLOCK, finish through the callbacks API, record the outcome).
"""

from ledgerbridge.operations.workflow_actions.model import ActionFailed
from ledgerbridge.operations.workflow_actions.service import (
    ClientsFactory,
    WorkflowActionService,
    register_definitions,
)

__all__ = ["ActionFailed", "ClientsFactory", "WorkflowActionService", "register_definitions"]

"""``/v1/sessions``: deliver a test one item at a time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import ContextDep, DeliverKey
from api.routes._body import IdempotencyHeader
from api.schemas import Delivery, ResponseCreate, SessionCreate, SessionView
from api.services import sessions
from api.services.idempotency import request_key

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


# replies carry feedback only where the assessment gives it (response_model_exclude_unset)
@router.post("", status_code=status.HTTP_201_CREATED, response_model=Delivery,
             response_model_exclude_unset=True)
def start_session(
    body: SessionCreate,
    context: ContextDep,
    principal: DeliverKey,
    idempotency_key: IdempotencyHeader = None,
) -> Any:
    """Start a test; returns the first item (id and number of categories) and its seq.

    Send an `Idempotency-Key` to make the start safe to retry: a lost reply, retried with
    the same key and body, returns the same session instead of starting a second one.
    """
    return sessions.start_session(
        context.db,
        tenant=principal.tenant,
        assessment_id=body.assessment_id,
        examinee_ref=body.examinee_ref,
        seed=body.seed,
        practice=body.practice,
        scope=principal.scope,
        idempotency=request_key(
            idempotency_key, "POST", "/v1/sessions", body.model_dump(mode="json")
        ),
    )


@router.post("/{session_id}/responses", response_model=Delivery,
             response_model_exclude_unset=True)
def submit_response(
    session_id: str, body: ResponseCreate, context: ContextDep, principal: DeliverKey
) -> Any:
    """Answer the presented item; returns the next item and seq, or the result.

    Sending the same ``{item_id, seq, response}`` again returns the same reply.
    """
    return sessions.respond(
        context.db,
        tenant=principal.tenant,
        session_id=session_id,
        item_id=body.item_id,
        seq=body.seq,
        response=body.response,
        scope=principal.scope,
    )


@router.get("/{session_id}", response_model=SessionView)
def get_session(session_id: str, context: ContextDep, principal: DeliverKey) -> Any:
    """Status, responses so far, the presented item, and the result once finished."""
    return sessions.get_session(
        context.db, tenant=principal.tenant, session_id=session_id, scope=principal.scope
    )

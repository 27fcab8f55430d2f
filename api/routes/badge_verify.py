"""``POST /v1/badges/verify``: check a badge (JSON credential or VC-JWT) offline.

Who may call it: any valid API key, ``admin`` or ``deliver``, of any tenant, for a badge of any
issuer. What it reads is public (the badge itself; the status lists and did:web documents this
service serves without a key), so a tenant learns nothing of another tenant by verifying its
badge: no badge record, no learner, no key is returned, only what anyone could compute from the
published documents. A key is still required, like every POST under ``/v1/``: the guard
authenticates and bounds the body before it is read, and canonicalising JSON-LD costs CPU. A
verifier without a key uses ``zapcat badge verify`` (same checks, offline).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictStr
from pydantic import ValidationError as PydanticValidationError

from api.deps import AnyKey, ContextDep
from api.services.badge_verify import verify_document

router = APIRouter(tags=["badges"])

MAX_LISTS = 20
MAX_JWT = 1_000_000


class VerifyRequest(BaseModel):
    """The wrapped form of the body: a credential or a JWT, and what to check it with."""

    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any] | None = Field(None, description="A signed credential (JSON).")
    jwt: Annotated[StrictStr, Field(min_length=5, max_length=MAX_JWT)] | None = Field(
        None, description="A VC-JWT (compact JWS, RS256)."
    )
    status_lists: list[dict[str, Any] | StrictStr] = Field(
        default_factory=list, max_length=MAX_LISTS,
        description="Signed status list credentials (JSON or JWT) the badge points at, for lists "
        "this service did not publish (its own are read from its database and take precedence).",
    )  # fmt: skip
    jwks: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_LISTS,
        description="Trusted RSA public keys (JWK) of VC-JWT issuers outside this service.",
    )  # fmt: skip
    require_status: StrictBool = Field(
        False, description="A status list that cannot be found is an error, not a warning."
    )
    at: AwareDatetime | None = Field(
        None, description="Check the validity dates as of this time (default: now)."
    )


EXAMPLES = {
    "jwt": {"summary": "A VC-JWT", "value": {"jwt": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}},
    "wrapped": {
        "summary": "A credential with a status list it points at",
        "value": {
            "credential": {"@context": ["https://www.w3.org/ns/credentials/v2"]},
            "status_lists": [],
            "require_status": True,
        },
    },
    "bare": {
        "summary": "A signed credential as the whole body",
        "value": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["..."]},
    },
}


def _request(body: dict[str, Any]) -> VerifyRequest:
    if "@context" in body:  # a bare credential
        return VerifyRequest(credential=body)
    try:
        request = VerifyRequest.model_validate(body)
    except PydanticValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None
    if (request.credential is None) == (request.jwt is None):
        raise RequestValidationError([{
            "loc": ("body",), "type": "value_error", "input": sorted(body),
            "msg": "give exactly one of 'credential' (a JSON credential) and 'jwt' (a VC-JWT), "
                   "or send the credential itself as the body",
        }])  # fmt: skip
    return request


@router.post("/v1/badges/verify")
def verify_badge(
    context: ContextDep,
    _principal: AnyKey,
    body: Annotated[
        dict[str, Any],
        Body(
            description="A signed credential, or {credential | jwt, status_lists, jwks, "
            "require_status, at}.",
            openapi_examples=EXAMPLES,
        ),
    ],
) -> dict[str, Any]:
    """Verify a badge offline: proof, validity dates, status (any API key).

    The reply is ``200`` whether or not the badge verifies: ``verified``, ``checks``
    (``proof``, ``validity``, ``status``: ``ok`` / ``failed`` / ``not_checked`` /
    ``not_applicable``), ``errors`` and ``warnings`` with stable codes (``revoked``,
    ``bad_signature``, ``expired``, ``status_unavailable``, ...). A body that cannot be read is
    ``422 invalid_request``. Nothing is fetched from the network.
    """
    request = _request(body)
    document = request.jwt if request.jwt is not None else request.credential
    return verify_document(
        context.db, document=document, status_lists=request.status_lists, jwks=request.jwks,
        require_status=request.require_status, at=request.at,
    )  # fmt: skip

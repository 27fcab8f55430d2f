"""Open Badges 3.0: issue a session's badges, read and revoke them, the issuer and its keys.

Public (no key): the status lists (``/v1/status-lists/{id}``) and the did:web DID documents
(``/tenants/{tenant}/did.json``), which verifiers fetch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from api.deps import AdminKey, ContextDep, DeliverKey, ServiceContext
from api.errors import NotFoundError
from api.services import badge_issuers, badge_keys, badges
from api.services.badge_status import status_list_by_id

router = APIRouter(tags=["badges"])

Text200 = Annotated[StrictStr, Field(min_length=1, max_length=200)]


class BadgeRequest(BaseModel):
    """``POST /v1/sessions/{id}/badges``: which skill, for whom, how long valid."""

    model_config = ConfigDict(extra="forbid")
    skill_id: Text200 | None = Field(None, description="Only this skill (default: every "
                                     "skill whose required level is met).")
    email: Annotated[StrictStr, Field(min_length=3, max_length=320,
                                      pattern=r"^[^@\s]+@[^@\s]+$")] | None = Field(
        None, description="The learner's email: the badge names its salted SHA-256 "
        "(default: that of the session's examinee_ref).")
    include_email: StrictBool = Field(False, description="Put the email in the clear "
                                      "(only when the learner asks for it).")
    valid_days: Annotated[StrictInt, Field(ge=0, le=badges.MAX_VALID_DAYS)] | None = Field(
        None, description="Days to validUntil (0: none; default ZAPCAT_BADGE_VALID_DAYS).")


class IssuerUpdate(BaseModel):
    """``PUT /v1/badges/issuer``: the tenant's issuer profile (and did:web domain)."""

    model_config = ConfigDict(extra="forbid")
    name: Text200
    url: Annotated[StrictStr, Field(max_length=500)] | None = None
    description: Annotated[StrictStr, Field(max_length=2000)] = ""
    domain: Annotated[StrictStr, Field(max_length=255)] | None = Field(
        None, description="Host name for did:web (did:web:<domain>:tenants:<tenant>); "
        "none: the issuer is the did:key of the signing key.")


class RotateRequest(BaseModel):
    """``POST /v1/badges/keys/rotate``: which key algorithms to rotate (default both)."""

    model_config = ConfigDict(extra="forbid")
    algorithms: list[StrictStr] = Field(default_factory=lambda: list(badge_keys.ALGORITHMS),
                                        min_length=1, max_length=2)


def public_url(context: ServiceContext, request: Request) -> str:
    """``ZAPCAT_PUBLIC_URL``, else the base URL the request came to."""
    return context.settings.public_url or str(request.base_url).rstrip("/")


@router.post("/v1/sessions/{session_id}/badges", status_code=status.HTTP_201_CREATED)
def issue(session_id: str, request: Request, context: ContextDep, principal: DeliverKey,
          body: BadgeRequest | None = None) -> dict[str, Any]:
    """Issue the Open Badges 3.0 credentials of a finished session's met skill levels.

    Admin keys always; delivery keys when the assessment shows results. Asking again
    returns the badges already issued (``new: false``).
    """
    body = body or BadgeRequest()
    settings = context.settings
    out = badges.issue_badges(
        context.db, secret=settings.secret_key, tenant=principal.tenant,
        session_id=session_id, scope=principal.scope, public_url=public_url(context, request),
        valid_days=settings.badge_valid_days if body.valid_days is None else body.valid_days,
        skill_id=body.skill_id, email=body.email, include_email=body.include_email)
    return {"session_id": session_id, "badges": out}


@router.get("/v1/badges/issuer")
def get_issuer(context: ContextDep, principal: AdminKey) -> dict[str, Any]:
    """The tenant's issuer profile, its DID and its public keys (admin)."""
    return badge_issuers.get_issuer(context.db, tenant=principal.tenant)


@router.put("/v1/badges/issuer")
def set_issuer(body: IssuerUpdate, context: ContextDep, principal: AdminKey) -> dict[str, Any]:
    """Set the tenant's issuer profile; a ``domain`` makes the issuer a did:web (admin)."""
    return badge_issuers.set_issuer(context.db, tenant=principal.tenant, name=body.name,
                                    url=body.url, description=body.description,
                                    domain=body.domain)


@router.get("/v1/badges/keys")
def list_keys(context: ContextDep, principal: AdminKey) -> list[dict[str, Any]]:
    """The tenant's signing keys, newest first: public parts only (admin)."""
    return badge_keys.list_keys(context.db, tenant=principal.tenant)


@router.post("/v1/badges/keys/rotate")
def rotate_keys(context: ContextDep, principal: AdminKey,
                body: RotateRequest | None = None) -> list[dict[str, Any]]:
    """New signing keys; the old ones retire but still verify what they signed (admin)."""
    body = body or RotateRequest()
    return badge_keys.rotate_keys(context.db, secret=context.settings.secret_key,
                                  tenant=principal.tenant, algorithms=tuple(body.algorithms))


@router.get("/v1/badges/{badge_id}")
def get_badge(badge_id: str, context: ContextDep, principal: DeliverKey) -> dict[str, Any]:
    """A badge: its signed credential, status list entry and whether it is revoked."""
    return badges.get_badge(context.db, tenant=principal.tenant, badge_id=badge_id,
                            scope=principal.scope)


@router.get("/v1/badges/{badge_id}/jwt")
def get_badge_jwt(badge_id: str, context: ContextDep, principal: DeliverKey) -> dict[str, Any]:
    """The badge as a VC-JWT (RS256, the tenant's RSA key): ``{badge_id, kid, jwt}``."""
    return badges.badge_jwt(context.db, secret=context.settings.secret_key,
                            tenant=principal.tenant, badge_id=badge_id, scope=principal.scope)


@router.post("/v1/badges/{badge_id}/revoke")
def revoke(badge_id: str, context: ContextDep, principal: AdminKey) -> dict[str, Any]:
    """Revoke a badge (admin): its bit in the status list is set and the list re-signed."""
    return badges.revoke_badge(context.db, secret=context.settings.secret_key,
                               tenant=principal.tenant, badge_id=badge_id)


@router.get("/v1/status-lists/{list_id}", response_class=JSONResponse)
def status_list(list_id: str, context: ContextDep) -> JSONResponse:
    """A signed BitstringStatusListCredential (public: verifiers fetch it, no key)."""
    document = status_list_by_id(context.db, list_id)
    if document is None:
        raise NotFoundError("status list", list_id)
    return JSONResponse(document, headers={"Cache-Control": "max-age=300"})


@router.get("/tenants/{tenant}/did.json", response_class=JSONResponse)
def did_document(tenant: str, context: ContextDep) -> JSONResponse:
    """The did:web DID document of a tenant with a domain (public, no key)."""
    document = badge_issuers.did_document(context.db, tenant=tenant)
    return JSONResponse(document, media_type="application/did+json")

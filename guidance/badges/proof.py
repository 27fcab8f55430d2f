"""Data Integrity proofs, cryptosuite ``eddsa-rdfc-2022`` (W3C Data Integrity EdDSA 1.0, 3.3).

Signing: the proof options (with the document's ``@context``) and the document without its proof
are each canonicalised with RDFC-1.0 (PyLD) into N-Quads and hashed with SHA-256; the data to sign
is ``proof hash || document hash``; the Ed25519 signature is the ``proofValue``, multibase
base58-btc. Every intermediate value is returned by :func:`sign_steps`, so that the 1EdTech test
vector can be checked step by step.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from guidance.badges.contexts import document_loader
from guidance.badges.errors import BadgeError
from guidance.badges.multikey import b58decode, b58encode

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"


@dataclass(frozen=True)
class ProofSteps:
    """The intermediate values of one eddsa-rdfc-2022 proof."""

    document_nquads: str
    proof_nquads: str
    document_hash: bytes
    proof_hash: bytes
    data_to_sign: bytes
    signature: bytes | None
    proof_value: str | None


def canonize(document: dict[str, Any]) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, with the bundled contexts only.

    Raises
    ------
    BadgeError
        ``invalid_badge`` when the document is not valid JSON-LD, uses a context that is not
        bundled, or has a term its contexts do not define (safe mode: nothing is dropped
        silently, so nothing unsigned can ride along).
    """
    options = {"documentLoader": document_loader}
    try:
        expanded = jsonld.expand(document, options)
        context = {"@context": document.get("@context")} if "@context" in document else {}
        compacted = jsonld.compact(expanded, context, options)
        dropped = sorted(_key_paths(document) - _key_paths(compacted))
        if dropped:
            raise BadgeError(
                "invalid_badge",
                f"terms not defined by the credential's contexts: {', '.join(dropped)} "
                "(they would be left out of the signature); remove them or use a context "
                "that defines them",
            )
        return jsonld.normalize(
            document, {**options, "algorithm": "URDNA2015", "format": "application/n-quads"}
        )
    except BadgeError:
        raise
    except jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, BadgeError):
                raise cause from exc
            cause = getattr(cause, "cause", None) or cause.__cause__ or cause.__context__
        raise BadgeError("invalid_badge", f"not a valid JSON-LD credential: {exc}") from exc


def _key_paths(node: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every object key (list positions ignored; ``@context`` skipped)."""
    out: set[str] = set()
    if isinstance(node, list):
        for item in node:
            out |= _key_paths(item, prefix)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            out |= _key_paths(value, path)
    return out


def _proof_config(document: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    for key, want in (("type", PROOF_TYPE), ("cryptosuite", CRYPTOSUITE)):
        if options.get(key) != want:
            raise BadgeError(
                "invalid_proof", f"proof {key} must be {want!r}, got {options.get(key)!r}"
            )
    for key in ("verificationMethod", "proofPurpose", "created"):
        if not isinstance(options.get(key), str):
            raise BadgeError("invalid_proof", f"proof {key} is missing (a string is required)")
    config = {k: v for k, v in options.items() if k != "proofValue"}
    config["@context"] = document.get("@context")
    return config


def _steps(document: dict[str, Any], options: dict[str, Any]) -> ProofSteps:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    proof_nquads = canonize(_proof_config(document, options))
    document_nquads = canonize(unsecured)
    proof_hash = hashlib.sha256(proof_nquads.encode("utf-8")).digest()
    document_hash = hashlib.sha256(document_nquads.encode("utf-8")).digest()
    return ProofSteps(
        document_nquads, proof_nquads, document_hash, proof_hash,
        proof_hash + document_hash, None, None,
    )  # fmt: skip


def sign_steps(
    document: dict[str, Any], options: dict[str, Any], key: Ed25519PrivateKey
) -> ProofSteps:
    """Sign and return every intermediate value (see :class:`ProofSteps`)."""
    steps = _steps(document, options)
    signature = key.sign(steps.data_to_sign)
    return ProofSteps(
        steps.document_nquads, steps.proof_nquads, steps.document_hash, steps.proof_hash,
        steps.data_to_sign, signature, "z" + b58encode(signature),
    )  # fmt: skip


def sign(
    document: dict[str, Any], options: dict[str, Any], key: Ed25519PrivateKey
) -> dict[str, Any]:
    """A copy of ``document`` with an ``eddsa-rdfc-2022`` ``proof`` added.

    Parameters
    ----------
    document : dict
        The unsigned credential (JSON-LD, bundled contexts only; no ``proof`` key).
    options : dict
        ``type`` DataIntegrityProof, ``cryptosuite``, ``created``, ``verificationMethod``,
        ``proofPurpose``.
    key : Ed25519PrivateKey
        The issuer's key for ``verificationMethod``.
    """
    if "proof" in document:
        raise BadgeError("invalid_badge", "the document already has a proof; sign it unsigned")
    steps = sign_steps(document, options, key)
    signed = copy.deepcopy(document)
    signed["proof"] = {**options, "proofValue": steps.proof_value}
    return signed


def verify_proof(document: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Check the ``eddsa-rdfc-2022`` proof of ``document`` with ``public_key``.

    Raises
    ------
    BadgeError
        ``invalid_proof`` (missing or malformed proof) or ``bad_signature``.
    """
    proof = document.get("proof")
    if not isinstance(proof, dict):
        raise BadgeError("invalid_proof", "the credential has no proof (one object expected)")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise BadgeError("invalid_proof", "proof.proofValue must be base58-btc multibase ('z...')")
    signature = b58decode(value[1:])
    if len(signature) != 64:
        raise BadgeError("invalid_proof", f"proofValue has {len(signature)} bytes, 64 expected")
    steps = _steps(document, proof)
    try:
        public_key.verify(signature, steps.data_to_sign)
    except InvalidSignature as exc:
        raise BadgeError(
            "bad_signature", "the signature does not match: the credential was changed "
            "after signing, or it was signed by another key",
        ) from exc  # fmt: skip

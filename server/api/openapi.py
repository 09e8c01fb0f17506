"""The OpenAPI 3.1 document, generated from the same route table and pydantic models the
server uses to validate and answer (so the document and the behaviour cannot drift).

Besides each route's own ``errors``, the answers that follow from the edges every request
passes are added here, so no route can forget them:

* every route: ``400`` (malformed request), ``413`` (body over the cap), ``500``;
* every unsafe method (POST, PUT, PATCH, DELETE): ``403 csrf_failed`` (an Origin outside the
  allowed list, or a session cookie without its CSRF token; ``server/api/middleware.py``);
* every route that reads a body: ``408 request_timeout`` (the body stalls,
  ``server/api/body.py``) and ``415 unsupported_media_type`` (not the documented type,
  an absent body included); a JSON body also ``422 validation_failed``.

``tests/server/test_openapi_schemathesis.py`` sends generated requests signed out and signed
in and fails on any answer the document does not name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api.http import Route
from server.wire.schemas import ErrorResponse, Health

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _edge_errors(r: Route) -> set[int]:
    """The error statuses every route of this kind can answer (see the module doc)."""
    out = {400, 413, 500}
    if r.method in _UNSAFE:
        out.add(403)
    if r.request is not None or r.binary_request:
        out |= {408, 415}
    if r.request is not None:
        out.add(422)
    return out


def build_openapi(routes: Sequence[Route], version: str) -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [(ErrorResponse, "serialization")]
    models += [(Health, "serialization")]
    for r in routes:
        if r.request is not None:
            models.append((r.request, "validation"))
        if r.response is not None:
            models.append((r.response, "serialization"))
    key_map, defs = models_json_schema(models, ref_template=_REF)
    error_ref = key_map[(ErrorResponse, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": r.handler.__name__,
            "summary": r.summary,
            "responses": {},
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)}", r.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
            for name, kind in r.query
        ]
        if params:
            op["parameters"] = params
        if r.request is not None:
            op["requestBody"] = {
                "required": r.method != "POST" or r.request.__name__ != "TransitionRequest",
                "content": {"application/json": {"schema": key_map[(r.request, "validation")]}},
            }
        if r.binary_request:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/octet-stream": {
                        "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                    }
                },
            }
        if r.binary_response:
            op["responses"][str(r.status)] = {
                "description": "The ciphertext",
                "content": {
                    "application/octet-stream": {
                        "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                    }
                },
            }
        elif r.response is not None:
            for ok in (r.status, *r.also):
                op["responses"][str(ok)] = {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": key_map[(r.response, "serialization")]}
                    },
                }
        else:
            op["responses"][str(r.status)] = {"description": "No content"}
        for status in sorted(set(r.errors) | _edge_errors(r)):
            op["responses"][str(status)] = {
                "description": "Error",
                "content": {"application/json": {"schema": error_ref}},
            }
        if r.auth == "session":
            op["security"] = [{"session": []}]
        elif r.auth == "pending":
            op["security"] = [{"pendingSession": []}]
        else:
            op["security"] = []
        paths.setdefault(r.path, {})[r.method.lower()] = op
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: the process answers (readiness is /readyz)",
            "security": [],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": key_map[(Health, "serialization")]}},
                },
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dermline API", "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "dermline_session"},
                "pendingSession": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "dermline_session",
                    "description": "a session that passed the password step only",
                },
            },
        },
    }

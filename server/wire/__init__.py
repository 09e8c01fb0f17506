"""The wire: what both transports send and accept.

* ``schemas``  the pydantic models of every request, response and Socket.IO event (they
  also generate the OpenAPI document);
* ``render``   domain records to those models, one function per resource.

HTTP (``server/api``) and Socket.IO (``server/realtime``) import this package and the
domain, never each other, so a resource has one shape whichever way it travels.
"""

__all__: list[str] = []

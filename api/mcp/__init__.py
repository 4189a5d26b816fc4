"""chatbi as an MCP server: the governed catalog, queries, questions and analyses as typed tools.

:mod:`api.mcp.server` builds the server on one Assistant; ``chatbi mcp`` (:mod:`api.mcp_cli`) serves it
over stdio, and :mod:`api.mcp.http` mounts it at ``/mcp`` under ``chatbi serve``. Who is asking is
fixed by the server (the configured user, or the request's API key), never by a tool's arguments.
"""

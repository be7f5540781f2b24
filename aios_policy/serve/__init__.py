"""The serve stage: the constitution as a long-running service for agents and approvers.

Owns the constitution that follows a git ref (`live`), the decision log's writer thread
(`writer`), who is calling (`identity`: bearer tokens and the request as the caller), the HTTP
app (`http/`, the one home of FastAPI) and the MCP server (`mcp`). May import guide and everything
below it; never cli.
"""

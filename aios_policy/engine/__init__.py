"""The engine stage: a request and a moment in, a decision out.

Owns the evaluation of a compiled constitution (`decide`), the `Outcome` and its strictness and
risk orders (`outcome`), who approves and the identity rules (`people`), the checks every request
passes first (`request`), the wire shapes of requests and decisions (`shapes`, pydantic, from which
schemas/request.schema.json and decision.schema.json are generated) and the Python API that ties
them together (`facade.Constitution`). Pure: no I/O, no clock. May import `aios_policy.constitution`,
`aios_policy.words` and what every stage shares.
"""

"""The constitution stage: from files on disk or at a git ref to a validated, compiled constitution.

Owns reading (`source`, the one home of gitpython), parsing with positions (`load`, `jsonpos`),
schema validation (`schema`, the one home of jsonschema), cross-references (`crossref`), compiling
conditions (`conditions`, the one home of jmespath) and the rest (`compiler`) into the frozen
records of `model`, the input space those conditions cut (`space`), warnings (`lint`), the
canonical layout (`fmt`) and the ordered list of stages that runs them all (`pipeline`). May import
only what every stage shares (`aios_policy.errors`, `diagnostics`, `limits`, `files`).
"""

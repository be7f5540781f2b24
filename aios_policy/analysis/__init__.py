"""The analysis stage: what a version of the constitution does, and what a change to it would do.

Owns the regions of the input space that decide alike or differently (`regions`), what changed in
the files in the constitution's words (`changes`, the one home of deepdiff), the scenarios and the
replay of logged requests (`scenarios`, `impact`), the behavioural diff that puts them together
(`diff`) and its reports (`report`), and CODEOWNERS from the org chart (`owners`). May import the
engine, the record and everything below them; never guide, serve or cli.
"""

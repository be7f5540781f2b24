"""The guide stage: the constitution explained to the people who work by it.

Owns an action's decision table and a procedure's walk (`explain`), answers to "what happens
when…" questions (`ask`, the one home of rapidfuzz) and the static handbook (`handbook/`, the one
home of jinja2). May import analysis and everything below it; never serve or cli.
"""

"""Plain English: how outcomes, numbers, money, ranges, dates and decisions read to a person.

Every sentence the product shows about an outcome or a value is made here, once, so the engine,
the diff, explain, ask and the handbook can never word the same thing two ways. Pure functions of
values; may import only `aios_policy.constitution` and what every stage shares.
"""

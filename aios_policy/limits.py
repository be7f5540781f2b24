"""Every bound aios-policy puts on hostile input, in one place (the README's security model lists them).

A constitution file, a request and an expression are all untrusted: each is read, parsed and
evaluated within these limits, and what goes past one is refused with a clear message, never
read further.
"""

# files of a constitution
MAX_FILE_BYTES = 1024 * 1024  # one constitution file
MAX_FILES = 20_000  # JSON files under one constitution folder
MAX_JSON_DEPTH = 64  # nesting of objects and lists, in a file or a request
MAX_INTEGER = 2**63 - 1  # the largest whole number, in a file or a request (SQLite's, and most JSON readers')
LATEST_YEAR = 9000  # the last year a constitution's date may name; days are added to them without overflow

# conditions
MAX_PATTERN = 200  # characters of a `matches` regular expression
MAX_MATCHED_TEXT = 1000  # characters of a field a regular expression looks at
MAX_REPEAT = 1000  # the largest repetition count RE2 accepts (`a{1000}`); RE2 refuses more itself
MAX_PATTERN_MEMORY = 1024 * 1024  # bytes RE2 may use for one compiled pattern (its max_mem)
MAX_EXPRESSION = 500  # characters of a raw JMESPath expression or a complex path
MAX_EXPRESSION_NODES = 100  # parts of its parsed tree (each value of a literal counts as one)
MAX_EXPRESSION_DEPTH = 25  # nesting of its parsed tree
MAX_NESTED_PROJECTIONS = 2  # projections (`[*]`, `[]`, `[?...]`, `.*`) inside one another
MAX_EVALUATION_STEPS = 10_000  # per evaluation of one expression: nodes visited + items of lists built
MAX_BUILT_TEXT = 1000  # characters of any text an expression makes (its functions make none today)

# requests
MAX_INPUT_BYTES = 64 * 1024 * 1024  # what `aios decide` reads from a file or standard input

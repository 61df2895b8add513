# Fixtures live in tests/fixtures/, one module per concern, so that each stays short.
pytest_plugins = [
    "tests.fixtures.api",
    "tests.fixtures.cache",
    "tests.fixtures.graphql_cache",
    "tests.fixtures.mutants",
]

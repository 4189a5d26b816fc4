"""Engine adapters (DuckDB, PostgreSQL) behind the semantic layer's small engine protocol."""

"""Pydantic shapes of the REST API's requests and responses (never ORM rows)."""

"""The metadata store: records, repository interfaces and their implementations."""

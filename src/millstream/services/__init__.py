"""User actions, one function each: trigger, backfill, clear, mark, pause, delete, pools.

Each service takes the raw inputs a caller received (conf as text or a dict, dates as text
or datetimes), checks them with the one parser of :mod:`millstream.services.inputs`, opens
(or joins) the store's transaction, writes the audit record and returns the result. The
API, the UI, the CLI and the operators call these; none of them changes the store for a
user in any other way. Errors are the domain's: ``NotFoundError``, ``ConflictError`` and
``InvalidInputError`` from :mod:`millstream.exceptions`.
"""

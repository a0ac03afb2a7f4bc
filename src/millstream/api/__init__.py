"""The web server's REST API (``/api/v1``) and its users, roles, sessions and tokens.

``millstream.api.app.create_app`` builds the application; this package's own import stays
light (no FastAPI) so that the command line can manage users and tokens quickly.
"""

"""The web server's REST API (``/api/v1``) and its users, roles, sessions and tokens.

``millstream.api.app.create_api_app`` builds the API application (``millstream.ui.server``
adds the UI to it); this package's own import stays light (no FastAPI) so that the command
line can manage users and tokens quickly.
"""

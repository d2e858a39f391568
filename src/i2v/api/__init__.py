"""The REST API: `create_app(settings)`, routes, auth, and the error-to-HTTP mapping."""

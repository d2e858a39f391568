"""The web dashboard: server-rendered pages on top of `services/`, served by `i2v serve` at /.

`mount.install(api, settings)` adds it to the FastAPI application; nothing is built at import
time.
"""

"""The fal.ai backend: hosted image-to-video endpoints."""

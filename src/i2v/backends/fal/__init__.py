"""The fal.ai backend: hosted image-to-video endpoints, their manifests and the queue client."""

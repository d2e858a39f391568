"""The ComfyUI backend: node catalogue, API graphs, workflow library, conversion and validation."""

"""The shipped ComfyUI workflows: versioned API graphs exported from the official templates."""

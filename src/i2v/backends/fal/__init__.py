"""fal.ai hosted image-to-video models: the queue client and its error mapping."""

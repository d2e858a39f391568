"""The GPU fleet: rent, reuse and release ComfyUI machines on Vast.ai and RunPod."""

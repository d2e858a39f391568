"""The one exception tree of i2v; every error carries a stable code and its data.

Hierarchy (HTTP status codes, where any, are assigned only at the API edge)::

    I2VError                      code, message, retryable
    ├── InvalidInput              the caller sent something we refuse
    │   ├── InvalidParameter      a job parameter is out of range or malformed (field, value)
    │   │   └── UnknownMotion     --motion names no known camera motion
    │   └── ImageError            the input image is unusable (path)
    │       ├── ImageNotFound
    │       ├── NotAnImage        not PNG, JPEG or WebP
    │       ├── CorruptImage      truncated or undecodable
    │       ├── ImageTooLarge     over the pixel limit; refused from the header, never decoded
    │       └── ImageTooSmall
    ├── NotFound                  no such user, key or job (or not yours: never say which)
    ├── Conflict                  the request collides with existing state (e.g. a taken name)
    ├── Unauthenticated           missing, malformed, unknown or revoked API key
    ├── Forbidden                 authenticated, but not allowed (e.g. not an admin)
    ├── ConfigError               a setting (I2V_* or .env) is invalid
    ├── OutputError               the destination cannot be written (path)
    └── RenderError               rendering or encoding failed (retryable depends on the cause)

Each subclass sets a class-level ``code``; instances may override ``retryable``.
"""

from __future__ import annotations

from pathlib import Path


class I2VError(Exception):
    """Base of every error i2v raises on purpose."""

    code = "i2v_error"
    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message


class InvalidInput(I2VError):
    code = "invalid_input"


class InvalidParameter(InvalidInput):
    code = "invalid_parameter"

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class UnknownMotion(InvalidParameter):
    code = "unknown_motion"


class ImageError(InvalidInput):
    code = "invalid_image"

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = str(path)


class ImageNotFound(ImageError):
    code = "image_not_found"


class NotAnImage(ImageError):
    code = "not_an_image"


class CorruptImage(ImageError):
    code = "corrupt_image"


class ImageTooLarge(ImageError):
    code = "image_too_large"


class ImageTooSmall(ImageError):
    code = "image_too_small"


class NotFound(I2VError):
    code = "not_found"


class Conflict(I2VError):
    code = "conflict"


class Unauthenticated(I2VError):
    code = "unauthenticated"


class Forbidden(I2VError):
    code = "forbidden"


class ConfigError(I2VError):
    code = "invalid_config"


class OutputError(I2VError):
    code = "output_not_writable"

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(message)
        self.path = str(path)


class RenderError(I2VError):
    code = "render_failed"

"""The pixel format an H.264 stream declares in its sequence parameter set (SPS).

FFmpeg reports a stream's pixel format only after decoding frames: opening one of our
1080x1920 videos costs ~30 ms, nearly all of it decoding. The SPS in the MP4's avcC box
states the chroma format and the bit depth, which is all it takes for 8-bit 4:2:0.
"""

from __future__ import annotations

# profile_idc values whose SPS carries chroma_format_idc and the bit depths (ITU-T H.264
# 7.3.2.1.1); every other profile is 8-bit 4:2:0.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_MAX_ZEROS = 31  # longer exp-Golomb prefixes do not occur in a valid SPS


class _Bits:
    """Big-endian bit reader with exp-Golomb codes, over an RBSP."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def read(self, count: int) -> int:
        if count > self._left:
            raise ValueError("SPS ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros > _MAX_ZEROS:
                raise ValueError("bad exp-Golomb code")
        return (1 << zeros) - 1 + self.read(zeros)


def avcc_pix_fmt(avcc: bytes | None) -> str | None:
    """ "yuv420p" when the first SPS in `avcc` declares 8-bit 4:2:0, else None (unknown)."""
    # avcC: version 1, profile, compatibility, level, length size, SPS count, SPS length.
    if not avcc or len(avcc) < 8 or avcc[0] != 1 or avcc[5] & 0x1F == 0:
        return None
    length = int.from_bytes(avcc[6:8], "big")
    sps = avcc[8 : 8 + length]
    if len(sps) != length or len(sps) < 4 or sps[0] & 0x1F != 7:  # NAL type 7: SPS
        return None
    rbsp = sps[1:].replace(b"\x00\x00\x03", b"\x00\x00")  # drop emulation prevention
    try:
        bits = _Bits(rbsp)
        profile = bits.read(8)
        bits.read(16)  # constraint flags, level
        bits.ue()  # seq_parameter_set_id
        chroma_format, luma_depth, chroma_depth = 1, 0, 0
        if profile in _HIGH_PROFILES:
            chroma_format = bits.ue()
            if chroma_format == 3:
                bits.read(1)  # separate_colour_plane_flag
            luma_depth, chroma_depth = bits.ue(), bits.ue()
    except ValueError:
        return None
    return "yuv420p" if (chroma_format, luma_depth, chroma_depth) == (1, 0, 0) else None

"""The embedded CPU renderer: camera motion over a still image, no GPU, keys or network."""

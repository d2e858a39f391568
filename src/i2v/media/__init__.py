"""Media in and out: image normalisation, colour conversion, encoding, probing."""

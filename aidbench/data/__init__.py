"""Video data: decoding, clip sampling, the paper's four datasets and the synthetic benchmark synthtvp."""

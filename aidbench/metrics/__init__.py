"""Metrics whose names carry their protocol: FVD/KVD (I3D), FID/KID (clean-fid), CLIPSIM, synthtvp's exact ones."""

"""Reports: the paper's tables as data, and renderers that put our numbers beside the paper's."""

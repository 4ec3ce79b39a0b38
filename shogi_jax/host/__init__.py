"""Host utilities under every other layer: paths (local and object stores) and files written
whole, progress bars, stop signals, devices and meshes, compiled programs kept on disk, and the
settings machinery that typed configs are built with."""

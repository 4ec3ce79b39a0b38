"""Host utilities under every other layer: files written atomically, progress bars, stop signals,
devices and meshes, compiled programs kept on disk, and the settings machinery that typed configs
are built with."""

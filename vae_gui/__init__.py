"""VAE Face Explorer's Qt layer: windows and widgets over the Qt-free `trainer` core."""

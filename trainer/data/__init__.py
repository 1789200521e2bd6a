"""Face data: image folders, the built-in synthetic faces, image decoding, and the app's cache folder."""

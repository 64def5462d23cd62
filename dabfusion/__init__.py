"""DabFusion: music-driven dance video generation."""
__version__ = "0.1.0"

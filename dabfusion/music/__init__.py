"""The music encoder (paper section 3.2): rhythm (librosa), style (CLAP), movement (Wav2CLIP)."""

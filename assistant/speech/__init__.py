"""Speech to text on the device (Vosk, pocketsphinx) and audio input."""

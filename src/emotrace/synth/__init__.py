"""The generated RECOLA-like corpus: eSpeak NG speech whose prosody follows hidden emotion curves.

Entry points: `emotrace.synth.speakers.speakers` (speaker table),
`emotrace.synth.recording.synthesize_recording` and `.write_metadata`. Nothing is
imported here, so the eSpeak worker process starts without pandas or torch.
"""

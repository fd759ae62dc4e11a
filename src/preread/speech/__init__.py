"""Speech by what was said: normalized text, the index of stored speech, assembly."""

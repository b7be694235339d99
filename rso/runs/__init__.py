"""Run directories: logged episode records, their files, readers and writers."""

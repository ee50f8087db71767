"""Developer tools that sit on top of the whole package (docs generation)."""

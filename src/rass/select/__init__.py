"""Selection: score candidates against the boundary, verify they are benign, keep a diverse band."""

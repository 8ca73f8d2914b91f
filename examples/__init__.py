"""Tasks that run offline with one command each (see README.md here): lrlab's task protocol on a
character-level language model and on a tabular classifier."""

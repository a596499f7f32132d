"""The name server and the reference broker: thin request handlers over the pieces."""

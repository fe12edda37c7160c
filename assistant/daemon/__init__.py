"""The local daemon: the models loaded once, served over the Wyoming protocol, and a client for it."""

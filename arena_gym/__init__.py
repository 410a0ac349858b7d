"""arena-gym: a Gymnasium environment for leveraged perpetual-futures trading."""

//! Local servers that speak the providers' real wire formats (being written).

"""The five supil services and the runtime they share."""

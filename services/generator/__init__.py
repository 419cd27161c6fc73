"""The generator service: drafts sections paragraph by paragraph with the writers."""
